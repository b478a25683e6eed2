// Administration views: KMS keys, bearer tokens, DS3 bulk jobs (with their chunks' progress).
// Each view gets the shell's helpers: page(title, ...kids), guarded(fn), current() (still the shown view).
import { call } from "./api.js";
import { field, formCard, h, size, toast } from "./dom.js";

const link = (path, q) => "#" + path + (q ? "?" + new URLSearchParams(q).toString() : "");
const head = (...names) => h("thead", {}, h("tr", {}, names.map((t) => h("th", { scope: "col" }, t))));

function shownOnce(id, title, value) {
  return h("div", { class: "card secret", role: "status", id },
    h("p", {}, title + " It is shown only once: copy it now."),
    h("input", { class: "wide mono", readonly: true, value, "aria-label": title, id: id + "-value" }));
}

// -- KMS keys -----------------------------------------------------------------------------------------------
export async function kmsView({ page, guarded, current }) {
  const data = await guarded(() => call("GET", "kms"));
  if (!data || !current()) return;
  const rerun = () => kmsView({ page, guarded, current });
  const alias = h("input", { id: "kms-alias", placeholder: "photos-root" });
  const desc = h("input", { id: "kms-description" });
  const form = formCard("New KMS key", "kms-new", h("div", { class: "fields" },
    field("Alias (optional)", alias, "letters, digits, / _ -"), field("Description", desc)), async () => {
    const k = await call("POST", "kms", {}, { alias: alias.value, description: desc.value });
    await rerun();
    return `Key ${k.alias || k.id} created`;
  }, "Create key");
  const rows = data.keys.map((k) => {
    const next = k.state === "Enabled" ? "Disabled" : "Enabled";
    const btn = h("button", { type: "button", class: "kms-toggle", "data-key": k.id,
      "aria-label": `${next === "Disabled" ? "Disable" : "Enable"} key ${k.alias || k.id}` }, next === "Disabled" ? "Disable" : "Enable");
    btn.disabled = k.state === "PendingDeletion";
    btn.addEventListener("click", async () => {
      if (await guarded(() => call("PUT", "kms-state", { key: k.id }, { state: next }))) { toast(`Key ${k.alias || k.id} ${next.toLowerCase()}`, "ok"); rerun(); }
    });
    return h("tr", { "data-key": k.id }, h("td", {}, k.alias || "—"), h("td", { class: "mono" }, k.id), h("td", {}, k.state),
      h("td", {}, k.description), h("td", {}, k.created), h("td", {}, btn));
  });
  page("KMS keys", h("p", {}, "Keys of SSE-KMS in this server's key store. A disabled key cannot encrypt or decrypt: " +
    "objects under it cannot be read until it is enabled again."), form,
  h("table", { id: "kms-keys" }, head("Alias", "Key id", "State", "Description", "Created", ""),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6 }, "No keys yet.")))));
}

// -- bearer tokens ------------------------------------------------------------------------------------------------
const LIFETIMES = [["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"], ["2592000", "30 days"], ["31536000", "1 year"], ["", "never expires"]];

export async function tokensView({ page, guarded, current }) {
  const [data, users] = await Promise.all([guarded(() => call("GET", "tokens")), guarded(() => call("GET", "users"))]);
  if (!data || !users || !current()) return;
  const rerun = (extra) => tokensView({ page, guarded, current }).then(() => extra && document.getElementById("main").prepend(extra));
  const user = h("select", { id: "token-user" }, users.users.map((u) => h("option", { value: u.id }, u.id)));
  const life = h("select", { id: "token-expiry" }, LIFETIMES.map(([v, t]) => h("option", { value: v, selected: v === "86400" }, t)));
  const form = formCard("Issue a bearer token", "token-new", h("div", { class: "fields" }, field("User", user), field("Valid for", life)),
    async () => {
      const t = await call("POST", "tokens", {}, { user: user.value, expires_in: life.value ? Number(life.value) : null });
      await rerun(shownOnce("token-once", `Bearer token ${t.id} for ${t.user}.`, t.token));
      return "Token issued";
    }, "Issue token");
  const rows = data.tokens.map((t) => {
    const state = t.revoked ? "revoked" : t.expired ? "expired" : "valid";
    const btn = h("button", { type: "button", class: "danger token-revoke", "data-token": t.id, "aria-label": "Revoke token " + t.id }, "Revoke");
    btn.disabled = state !== "valid";
    btn.addEventListener("click", async () => {
      if (await guarded(() => call("DELETE", "tokens", { id: t.id }))) { toast(`Token ${t.id} revoked`, "ok"); rerun(); }
    });
    return h("tr", { "data-token": t.id }, h("td", { class: "mono" }, t.id), h("td", {}, t.user), h("td", {}, t.created),
      h("td", {}, t.expires || "never"), h("td", { class: "token-state" }, state), h("td", {}, btn));
  });
  page("Bearer tokens", h("p", {}, "Tokens for `Authorization: Bearer` (the AIStore and IBM token APIs) and console sessions. " +
    "Revoking one ends it on every worker within two seconds."), form,
  h("table", { id: "tokens" }, head("Token id", "User", "Issued", "Expires", "State", ""),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6 }, "No tokens.")))));
}

// -- DS3 bulk jobs ---------------------------------------------------------------------------------------------------
function meter(done, total, label) {
  return h("progress", { max: total || 1, value: done, "aria-label": label });
}

export async function jobsView({ page, guarded, current, q }) {
  const status = q.get("status") || "";
  const data = await guarded(() => call("GET", "jobs", { status: status || undefined, limit: 100 }));
  if (!data || !current()) return;
  const filter = h("select", { id: "job-status" }, [["", "all"], ["IN_PROGRESS", "in progress"], ["COMPLETED", "completed"], ["CANCELED", "canceled"]]
    .map(([v, t]) => h("option", { value: v, selected: v === status }, t)));
  filter.addEventListener("change", () => { location.hash = link("/jobs", filter.value ? { status: filter.value } : null); });
  const rows = data.jobs.map((j) => h("tr", { "data-job": j.id },
    h("td", {}, h("a", { href: link("/job", { id: j.id }), class: "job-link" }, j.name)), h("td", {}, j.type), h("td", {}, j.bucket),
    h("td", {}, j.status), h("td", {}, meter(j.done_bytes, j.total_bytes, "Progress of " + j.name), " ",
      `${size(j.done_bytes)} of ${size(j.total_bytes)}`), h("td", {}, j.created)));
  page("Bulk jobs", h("div", { class: "row" }, field("Show", filter)), h("p", {}, `${data.total} job(s).`),
    h("table", { id: "jobs" }, head("Job", "Type", "Bucket", "Status", "Progress", "Created"),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6 }, "No bulk jobs.")))));
}

export async function jobView({ page, guarded, current, q }) {
  const id = q.get("id");
  const j = await guarded(() => call("GET", "job", { id }));
  if (!j || !current()) return;
  const rows = j.chunks.map((c) => h("tr", { "data-chunk": c.number },
    h("td", {}, String(c.number)), h("td", {}, c.allocated ? "allocated" : "waiting"),
    h("td", {}, meter(c.done_bytes, c.bytes, `Chunk ${c.number}`), ` ${c.blobs_done} of ${c.blobs} blob(s), ${size(c.done_bytes)} of ${size(c.bytes)}`),
    h("td", {}, c.objects.join(", "))));
  const cancel = h("button", { type: "button", class: "danger", id: "cancel-job" }, "Cancel job");
  cancel.hidden = j.status !== "IN_PROGRESS";
  cancel.addEventListener("click", async () => {
    if (await guarded(() => call("DELETE", "job", { id }))) { toast("Job canceled", "ok"); jobView({ page, guarded, current, q }); }
  });
  if (j.status === "IN_PROGRESS") {  // live progress: the page is redrawn when the job moved
    const shown = JSON.stringify(j);
    const poll = async () => {
      if (!current()) return;
      const now = await call("GET", "job", { id }).catch(() => null);
      if (!current()) return;
      if (now && JSON.stringify(now) !== shown) jobView({ page, guarded, current, q });
      else setTimeout(poll, 3000);
    };
    setTimeout(poll, 3000);
  }
  page("Job " + j.name, h("p", {}, h("a", { href: "#/jobs" }, "All bulk jobs")),
    h("dl", { class: "details", id: "job-details" }, [["Id", j.id], ["Type", j.type], ["Bucket", j.bucket], ["Owner", j.owner],
      ["Status", j.status], ["Priority", j.priority], ["Created", j.created], ["Finished", j.finished || "—"]]
      .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("p", { id: "job-progress" }, meter(j.done_bytes, j.total_bytes, "Progress of the job"), ` ${size(j.done_bytes)} of ${size(j.total_bytes)}`),
    cancel, h("table", { id: "chunks" }, head("Chunk", "State", "Progress", "Objects"), h("tbody", {}, rows)));
}
