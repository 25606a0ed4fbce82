// The freshness dashboard's view (anywidget). Every server or user text is set as textContent,
// never as HTML. Rows arrive whole in the `rows` trait on a (re)sync and as patches
// ({type: "patch", rows}) in between; each row's <tr> is updated in place.

const STATES = ["pending", "warming", "fresh", "stale", "no_data", "error", "never_fetched"];
const COLUMNS = ["table", "source", "state", "age", "rows", "size"];

function humanBytes(n) {
  if (n === null || n === undefined) return "—";
  let v = Number(n);
  for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
    if (Math.abs(v) < 1024 || unit === "TiB") return unit === "B" ? `${v.toFixed(0)} B` : `${v.toFixed(1)} ${unit}`;
    v /= 1024;
  }
  return `${v.toFixed(1)} TiB`;
}

function humanCount(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

function humanAge(iso) {
  if (!iso) return "never";
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  if (!(seconds >= 0)) return "just now";
  const steps = [[60, 1, "s"], [3600, 60, "min"], [86400, 3600, "h"], [86400 * 30, 86400, "d"]];
  for (const [limit, div, unit] of steps) if (seconds < limit) return `${Math.floor(seconds / div)} ${unit} ago`;
  return `${Math.floor(seconds / (86400 * 30))} mo ago`;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el: root }) {
  const box = el("div", "jp-agnes-w jp-agnes-fr");
  const head = el("div", "jp-agnes-fr-head");
  const title = el("span", "jp-agnes-fr-title", "Metadata freshness");
  const status = el("span", "jp-agnes-fr-status");
  const counts = el("span", "jp-agnes-fr-counts");
  const runLine = el("span", "jp-agnes-fr-run");
  head.append(title, status, counts, runLine);
  const rewarm = el("button", "jp-agnes-fr-rewarm jp-mod-styled jp-mod-accept", "Re-warm all");
  rewarm.title = "Warm up the metadata and schema of every table now";
  rewarm.addEventListener("click", () => model.send({ type: "rewarm" }));
  if ((model.get("actions") || []).includes("rewarm")) head.append(rewarm);
  const notice = el("div", "jp-agnes-fr-notice");
  const error = el("div", "jp-agnes-fr-error");
  error.setAttribute("role", "alert");
  const table = el("table", "jp-agnes-fr-table");
  const thead = el("thead");
  const headRow = el("tr");
  const actionHead = el("th", "jp-agnes-fr-actions-head", "");
  for (const c of COLUMNS) headRow.append(el("th", null, c));
  headRow.append(actionHead);
  thead.append(headRow);
  const tbody = el("tbody");
  table.append(thead, tbody);
  const empty = el("div", "jp-agnes-fr-empty", "No remote tables you may read.");
  box.append(head, notice, error, table, empty);
  root.append(box);

  const byId = new Map(); // id -> {tr, cells, row}

  function isAdmin() {
    return (model.get("actions") || []).includes("refresh");
  }

  function makeRow(row) {
    const tr = el("tr", "jp-agnes-fr-row");
    tr.dataset.tableId = row.id;
    const cells = {};
    for (const c of COLUMNS) {
      cells[c] = el("td", `jp-agnes-fr-${c}`);
      tr.append(cells[c]);
    }
    cells.table.append(el("code", null, row.id));
    cells.state.append(el("span", "jp-agnes-fr-state"));
    cells.state.append(el("div", "jp-agnes-fr-message"));
    const act = el("td", "jp-agnes-fr-actions");
    let btn = null;
    if (isAdmin()) {
      // Only admins get the button (the server refuses the refresh to anyone else anyway).
      btn = el("button", "jp-agnes-fr-refresh jp-mod-styled", "Refresh");
      btn.title = `Refresh the metadata of ${row.id} now`;
      btn.addEventListener("click", () => model.send({ type: "refresh", table_id: row.id }));
      act.append(btn);
    }
    tr.append(act);
    const entry = { tr, cells, row: {}, btn };
    byId.set(row.id, entry);
    tbody.append(tr);
    return entry;
  }

  function paint(entry, row) {
    entry.row = { ...entry.row, ...row };
    const r = entry.row;
    entry.cells.source.textContent = r.source || "";
    const badge = entry.cells.state.firstChild;
    badge.textContent = String(r.state || "").replace("_", " ");
    badge.dataset.state = r.state || "";
    entry.cells.state.lastChild.textContent = r.error || "";
    entry.cells.age.textContent = humanAge(r.refreshed_at);
    entry.cells.rows.textContent = humanCount(r.rows);
    entry.cells.size.textContent = humanBytes(r.size_bytes);
    if (entry.btn) entry.btn.disabled = r.state === "warming" || r.state === "pending";
    // Last: the benchmark watches data-state change and reads data-ts (the server's event time).
    entry.tr.dataset.ts = r.ts === null || r.ts === undefined ? "" : String(r.ts);
    entry.tr.dataset.state = r.state || "";
  }

  function apply(rows) {
    for (const row of rows) paint(byId.get(row.id) || makeRow(row), row);
    summarise();
  }

  function summarise() {
    const n = {};
    for (const { row } of byId.values()) n[row.state] = (n[row.state] || 0) + 1;
    counts.replaceChildren();
    const order = [...STATES, ...Object.keys(n).filter((s) => !STATES.includes(s)).sort()];
    for (const s of order) {
      if (!n[s]) continue;
      const c = el("span", "jp-agnes-fr-count", `${n[s]} ${s.replace("_", " ")}`);
      c.dataset.state = s;
      counts.append(c);
    }
    empty.style.display = byId.size ? "none" : "";
    table.style.display = byId.size ? "" : "none";
  }

  function resync() {
    const rows = model.get("rows") || [];
    const keep = new Set(rows.map((r) => r.id));
    for (const [id, entry] of byId) {
      if (!keep.has(id)) {
        entry.tr.remove();
        byId.delete(id);
      }
    }
    apply(rows);
  }

  function showStatus() {
    status.textContent = model.get("status_text") || "";
    status.dataset.status = model.get("status") || "";
  }

  function showRun() {
    const run = model.get("run") || {};
    if (run.status === "running") runLine.textContent = `${run.kind || "run"} running (${run.total ?? "?"} tables)`;
    else if (run.status === "complete")
      runLine.textContent = `last ${run.kind || "run"}: ${run.succeeded ?? 0} fresh, ${run.failed ?? 0} failed` +
        (run.duration_ms != null ? ` in ${(run.duration_ms / 1000).toFixed(1)} s` : "");
    else runLine.textContent = "";
    runLine.dataset.status = run.status || "";
  }

  function showAdmin() {
    const admin = isAdmin();
    if (admin && !rewarm.isConnected) head.append(rewarm);
    if (!admin) rewarm.remove();
    actionHead.style.display = admin ? "" : "none";
    box.classList.toggle("jp-agnes-fr-admin", admin);
  }

  function showError() {
    const e = model.get("error") || {};
    error.replaceChildren();
    if (e.message) {
      error.append(el("div", "jp-agnes-w-error-line", e.message));
      if (e.hint) error.append(el("div", "jp-agnes-w-hint", `hint: ${e.hint}`));
    }
    error.style.display = e.message ? "" : "none";
    notice.textContent = model.get("notice") || "";
  }

  function onMsg(msg) {
    if (msg && msg.type === "patch") apply(msg.rows || []);
  }

  model.on("change:rows", resync);
  model.on("change:status", showStatus);
  model.on("change:status_text", showStatus);
  model.on("change:run", showRun);
  model.on("change:actions", showAdmin);
  model.on("change:error", showError);
  model.on("change:notice", showError);
  model.on("msg:custom", onMsg);
  resync();
  showStatus();
  showRun();
  showAdmin();
  showError();
  model.send({ type: "hello" });
  const ages = setInterval(() => {
    for (const entry of byId.values()) entry.cells.age.textContent = humanAge(entry.row.refreshed_at);
  }, 15000);

  return () => {
    clearInterval(ages);
    model.off("change:rows", resync);
    model.off("change:status", showStatus);
    model.off("change:status_text", showStatus);
    model.off("change:run", showRun);
    model.off("change:actions", showAdmin);
    model.off("change:error", showError);
    model.off("change:notice", showError);
    model.off("msg:custom", onMsg);
  };
}

export default { render };
