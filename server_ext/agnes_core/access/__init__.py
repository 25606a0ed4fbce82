"""Who may do what: users, groups, grants, personal access tokens and the audit log."""
