"""Every Agnes route in one data list (relative to the server's base URL)."""

from __future__ import annotations

from typing import Any

from .handlers import (
    admin_access,
    admin_metadata,
    admin_registry,
    catalog,
    meta,
    packages,
    scans,
    sync,
    tokens,
    webhooks,
    workspace,
)

API = "agnes/v1"
_ID = r"([^/]+)"

ROUTES: list[tuple[str, type[Any]]] = [
    (rf"{API}/version", meta.VersionHandler),
    (rf"{API}/me", meta.MeHandler),
    (rf"{API}/openapi\.json", meta.OpenAPIHandler),
    (rf"{API}/catalog", catalog.CatalogHandler),
    (rf"{API}/catalog/ids", catalog.CatalogIdsHandler),
    (rf"{API}/tables/{_ID}/schema", catalog.TableSchemaHandler),
    (rf"{API}/tables/{_ID}/sample", catalog.TableSampleHandler),
    (rf"{API}/metadata/status", catalog.MetadataStatusHandler),
    (rf"{API}/metadata/stream", catalog.MetadataStreamHandler),
    (rf"{API}/scans/estimate", scans.ScanEstimateHandler),
    (rf"{API}/scans", scans.ScansHandler),
    (rf"{API}/scans/{_ID}", scans.ScanHandler),
    (rf"{API}/sync/manifest", packages.ManifestHandler),
    (rf"{API}/sync/tables/{_ID}/data", sync.TableDataHandler),
    (rf"{API}/packages", packages.PackagesHandler),
    (rf"{API}/packages/{_ID}", packages.PackageHandler),
    (rf"{API}/stack", packages.StackHandler),
    (rf"{API}/stack/{_ID}/{_ID}", packages.StackItemHandler),
    (rf"{API}/recipes", packages.RecipesHandler),
    (rf"{API}/recipes/{_ID}", packages.RecipeHandler),
    (rf"{API}/recipes/{_ID}/render", packages.RecipeRenderHandler),
    (rf"{API}/tokens", tokens.TokensHandler),
    (rf"{API}/tokens/{_ID}", tokens.TokenHandler),
    # the analyst's workspace on this server (the JupyterLab panel's sync and snapshots)
    (rf"{API}/workspace/snapshots", workspace.WorkspaceSnapshotsHandler),
    (rf"{API}/workspace/snapshots/{_ID}", workspace.WorkspaceSnapshotHandler),
    (rf"{API}/workspace/snapshots/{_ID}/refresh", workspace.WorkspaceSnapshotRefreshHandler),
    (rf"{API}/workspace/sync", workspace.WorkspaceSyncHandler),
    (rf"{API}/workspace/jobs/{_ID}", workspace.WorkspaceJobHandler),
    (rf"{API}/workspace/jobs/{_ID}/events", workspace.WorkspaceJobEventsHandler),
    # admin: registry and extracts
    (rf"{API}/admin/connectors", admin_registry.ConnectorsHandler),
    (rf"{API}/admin/sources", admin_registry.SourcesHandler),
    (rf"{API}/admin/sources/{_ID}", admin_registry.SourceHandler),
    (rf"{API}/admin/sources/{_ID}/test", admin_registry.SourceTestHandler),
    (rf"{API}/admin/sources/{_ID}/discover", admin_registry.SourceDiscoverHandler),
    (rf"{API}/admin/tables", admin_registry.TablesHandler),
    # Batch routes (the ':' is literal); tornado matches the raw path, so the form with the colon
    # percent-encoded (tables%3Abatch, as tornado's url_escape writes it) has a route of its own.
    (rf"{API}/admin/tables:batch", admin_registry.TablesBatchHandler),
    (rf"{API}/admin/tables%(.*)", admin_registry.TablesBatchEscapedHandler),
    (rf"{API}/admin/tables/{_ID}", admin_registry.TableHandler),
    (rf"{API}/admin/tables/{_ID}/extract", admin_registry.TableExtractHandler),
    (rf"{API}/admin/tables/{_ID}/runs", admin_registry.TableRunsHandler),
    (rf"{API}/admin/tables/{_ID}/runs/{_ID}", admin_registry.TableRunHandler),
    # admin: metadata refresh and warm-up
    (rf"{API}/admin/metadata/refresh", admin_metadata.MetadataRefreshHandler),
    (rf"{API}/admin/metadata/refresh/{_ID}", admin_metadata.MetadataRefreshOneHandler),
    (rf"{API}/admin/warmup", admin_metadata.WarmupHandler),
    (rf"{API}/admin/warmup/stream", admin_metadata.WarmupStreamHandler),
    # admin: access
    (rf"{API}/admin/users", admin_access.UsersHandler),
    (rf"{API}/admin/users/{_ID}", admin_access.UserHandler),
    (rf"{API}/admin/users/{_ID}/tokens", admin_access.UserTokensHandler),
    (rf"{API}/admin/tokens", admin_access.AdminTokensHandler),
    (rf"{API}/admin/tokens/{_ID}", admin_access.AdminTokenHandler),
    (rf"{API}/admin/groups", admin_access.GroupsHandler),
    (rf"{API}/admin/groups/{_ID}", admin_access.GroupHandler),
    (rf"{API}/admin/groups/{_ID}/members", admin_access.GroupMembersHandler),
    (rf"{API}/admin/groups/{_ID}/members/{_ID}", admin_access.GroupMemberHandler),
    (rf"{API}/admin/grants", admin_access.GrantsHandler),
    (rf"{API}/admin/grants:batch", admin_access.GrantsBatchHandler),
    (rf"{API}/admin/grants%(.*)", admin_access.GrantsBatchEscapedHandler),
    (rf"{API}/admin/grants/{_ID}", admin_access.GrantHandler),
    (rf"{API}/admin/audit", admin_access.AuditHandler),
    (rf"{API}/admin/settings", admin_access.SettingsHandler),
    # admin: data packages and recipes (soft delete, restore)
    (rf"{API}/admin/packages", packages.AdminPackagesHandler),
    (rf"{API}/admin/packages/{_ID}", packages.AdminPackageHandler),
    (rf"{API}/admin/packages/{_ID}/restore", packages.AdminPackageRestoreHandler),
    (rf"{API}/admin/recipes", packages.AdminRecipesHandler),
    (rf"{API}/admin/recipes/{_ID}", packages.AdminRecipeHandler),
    (rf"{API}/admin/recipes/{_ID}/restore", packages.AdminRecipeRestoreHandler),
    # pushed changes (STREAM): authenticated by the source's signature, not by Jupyter
    (rf"{API}/webhooks/{_ID}/{_ID}", webhooks.WebhookHandler),
    # Last: anything else under agnes/v1 gets the JSON 404 envelope.
    (rf"{API}/(.*)", meta.NotFoundHandler),
]
