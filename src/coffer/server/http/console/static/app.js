// The Coffer console: hash-routed views built with DOM calls (never innerHTML with data).
import { ApiError, call, setCsrf, url } from "./api.js";
import { jobView, jobsView, kmsView, tokensView } from "./admin.js";
import { startCharts } from "./charts.js";
import { errText, field, formCard, h, size, toast } from "./dom.js";
import { corsForm, encryptionForm, lifecycleForm, notificationsForm, quotaForm, websiteForm } from "./settings.js";
import { uploadFile } from "./upload.js";

const main = document.getElementById("main");
let me = null;
let viewId = 0;
const uploadsList = h("ul", { id: "uploads", class: "uploads", "aria-live": "polite" });

// -- helpers ----------------------------------------------------------------------------------------
async function guarded(fn) {
  try { return await fn(); } catch (e) {
    if (e instanceof ApiError && e.status === 401) { me = null; toLogin(); }
    toast(errText(e));
    return undefined;
  }
}

// One render of the login page: a changed hash renders through its hashchange event, else render now.
function toLogin() {
  if (location.hash === "#/login") render(); else location.hash = "#/login";
}

function confirmDialog(text, okLabel = "Delete") {
  const d = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.returnValue = "";
    d.showModal();
  });
}

function params() {
  const hash = location.hash.slice(1) || "/buckets";
  const [path, query] = hash.split("?");
  return { path, q: new URLSearchParams(query || "") };
}

function link(path, q) { return "#" + path + (q ? "?" + new URLSearchParams(q).toString() : ""); }

function page(title, ...kids) {
  main.replaceChildren(h("h1", { text: title }), ...kids);
  document.title = title + " · Coffer console";
}

// -- session ----------------------------------------------------------------------------------------
function showSession() {
  document.getElementById("nav").hidden = !me;
  document.getElementById("logout").hidden = !me;
  document.getElementById("who").textContent = me ? `${me.display_name || me.user} (${me.access_key})` : "";
  for (const a of document.querySelectorAll("[data-admin]")) a.hidden = !(me && me.admin);
}

function loginView() {
  const err = h("p", { class: "error", id: "login-error", role: "alert" });
  const byKey = h("input", { type: "radio", name: "how", id: "how-keys", value: "keys", checked: true });
  const byApi = h("input", { type: "radio", name: "how", id: "how-apikey", value: "apikey" });
  const keys = h("div", { class: "narrow" },
    h("label", { for: "ak" }, "Access key"), h("input", { id: "ak", name: "ak", autocomplete: "username" }),
    h("label", { for: "sk" }, "Secret key"),
    h("input", { id: "sk", name: "sk", type: "password", autocomplete: "current-password" }));
  const api = h("div", { class: "narrow", hidden: true },
    h("label", { for: "apikey" }, "API key"),
    h("input", { id: "apikey", name: "apikey", type: "password", autocomplete: "current-password" }));
  const form = h("form", { class: "card narrow", id: "login-form" },
    h("fieldset", { class: "inline" }, h("legend", {}, "Log in with"),
      h("label", { for: "how-keys" }, byKey, " access key and secret"), h("label", { for: "how-apikey" }, byApi, " an API key (IBM style)")),
    keys, api, err, h("button", { type: "submit", id: "login-button" }, "Log in"));
  const show = () => { keys.hidden = !byKey.checked; api.hidden = byKey.checked; };
  byKey.addEventListener("change", show); byApi.addEventListener("change", show);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    const body = byKey.checked ? { access_key: form.ak.value, secret_key: form.sk.value } : { api_key: form.apikey.value };
    try {
      me = await call("POST", "login", {}, body);
      setCsrf(me.csrf); showSession(); if (location.hash === "#/buckets") render(); else location.hash = "#/buckets";
    } catch (e) { err.textContent = errText(e); }
  });
  page("Log in", form);
  form.ak.focus();
}

// -- buckets ----------------------------------------------------------------------------------------
async function bucketsView(id) {
  const data = await guarded(() => call("GET", "buckets"));
  if (!data || id !== viewId) return;
  const name = h("input", { id: "new-bucket", "aria-label": "New bucket name", placeholder: "new-bucket-name" });
  const versioned = h("input", { type: "checkbox", id: "new-versioned" });
  const lock = h("input", { type: "checkbox", id: "new-lock" });
  const create = h("form", { class: "row", id: "create-bucket" }, name,
    h("label", {}, versioned, " versioning"), h("label", {}, lock, " object lock"),
    h("button", { type: "submit" }, "Create bucket"));
  create.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const ok = await guarded(() => call("POST", "buckets", {}, { name: name.value.trim(), versioning: versioned.checked,
      object_lock: lock.checked }));
    if (ok) { toast(`Bucket ${ok.name} created`, "ok"); render(); }
  });
  const rows = data.buckets.map((b) => h("tr", {},
    h("td", {}, h("a", { href: link("/browse", { bucket: b.name }), class: "bucket-link" }, b.name)),
    h("td", { class: "num" }, String(b.objects)), h("td", { class: "num" }, size(b.bytes)),
    h("td", {}, [b.versioning || "off", b.object_lock ? " · lock" : "", b.protection ? " · protection" : ""].join("")),
    h("td", {}, b.created || ""),
    h("td", {}, h("a", { href: link("/settings", { bucket: b.name }) }, "Settings"))));
  page("Buckets", create, h("table", { id: "buckets" },
    h("thead", {}, h("tr", {}, ["Name", "Objects", "Size", "Versioning", "Created", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6 }, "No buckets yet.")))));
}

// -- browse -----------------------------------------------------------------------------------------
function crumbs(bucket, prefix) {
  const parts = prefix.split("/").filter(Boolean);
  const out = [h("a", { href: "#/buckets" }, "Buckets"), " / ", h("a", { href: link("/browse", { bucket }) }, bucket)];
  let acc = "";
  for (const p of parts) {
    acc += p + "/";
    out.push(" / ", h("a", { href: link("/browse", { bucket, prefix: acc }) }, p));
  }
  return h("nav", { class: "crumbs", "aria-label": "Breadcrumbs" }, out);
}

// Dropped files and folders (FileSystemEntry trees) -> [{file, path}] with paths under the drop.
async function walkEntries(entries) {
  const out = [];
  const readAll = (reader) => new Promise((resolve, reject) => {
    const all = [];
    const next = () => reader.readEntries((batch) => { if (!batch.length) resolve(all); else { all.push(...batch); next(); } }, reject);
    next();
  });
  const walk = async (entry, path) => {
    if (entry.isFile) out.push({ file: await new Promise((res, rej) => entry.file(res, rej)), path: path + entry.name });
    else if (entry.isDirectory) for (const kid of await readAll(entry.createReader())) await walk(kid, path + entry.name + "/");
  };
  for (const e of entries) await walk(e, "");
  return out;
}

async function browseView(id, q) {
  const bucket = q.get("bucket"), prefix = q.get("prefix") || "", after = q.get("after") || "";
  const search = q.get("search") || "";
  const t0 = performance.now();
  const data = await guarded(() => call("GET", "objects", { bucket, prefix: prefix + search, after, limit: 200 }));
  if (!data || id !== viewId) return;
  const body = h("tbody", {});
  for (const p of data.prefixes) {
    body.append(h("tr", {}, h("td", {}), h("td", {}, h("a", { href: link("/browse", { bucket, prefix: p }), class: "folder" },
      "📁 " + p.slice(prefix.length))), h("td", {}), h("td", {}), h("td", {})));
  }
  for (const o of data.objects) {
    const box = h("input", { type: "checkbox", "aria-label": "Select " + o.key, "data-key": o.key });
    body.append(h("tr", {}, h("td", {}, box),
      h("td", {}, h("a", { href: link("/object", { bucket, key: o.key }), class: "object-link" }, o.key.slice(prefix.length) || o.key)),
      h("td", { class: "num" }, size(o.size)), h("td", {}, o.last_modified || ""),
      h("td", {}, h("a", { href: url("content", { bucket, key: o.key, download: 1 }), download: "" }, "Download"))));
  }
  const searchBox = h("input", { id: "search", type: "search", placeholder: "Filter by name prefix", value: search,
    "aria-label": "Filter by key prefix" });
  const searchForm = h("form", { class: "row", role: "search" }, searchBox, h("button", { type: "submit" }, "Filter"));
  searchForm.addEventListener("submit", (ev) => {
    ev.preventDefault(); location.hash = link("/browse", { bucket, prefix, search: searchBox.value });
  });
  const fileInput = h("input", { type: "file", id: "file-input", multiple: true, "aria-label": "Choose files to upload" });
  const progress = uploadsList;  // kept across views: uploads go on while the user browses
  const startUploads = async (files) => {
    for (const item of files) {
      const f = item instanceof File ? item : item.file;
      const rel = item instanceof File ? (f.webkitRelativePath || f.name) : item.path;
      const key = prefix + rel;
      const bar = h("progress", { max: f.size || 1, value: 0, "aria-label": "Upload of " + rel });
      const label = h("span", { class: "pct" }, "0%");
      const li = h("li", { "data-key": key }, h("span", {}, rel + " "), bar, label);
      progress.append(li);
      try {
        await uploadFile(bucket, key, f, (n, total) => {
          bar.value = n; li.dataset.sent = String(n);
          label.textContent = Math.floor(100 * n / Math.max(1, total)) + "%";
        });
        bar.value = f.size; li.dataset.sent = String(f.size); label.textContent = "done"; li.classList.add("done");
      } catch (e) { label.textContent = "failed: " + errText(e); li.classList.add("failed"); }
    }
    if (id === viewId) render();
  };
  fileInput.addEventListener("change", () => startUploads([...fileInput.files]));
  // a folder: by the directory picker (each File knows its path under the folder) or dropped
  const dirInput = h("input", { type: "file", id: "folder-input", webkitdirectory: true, multiple: true });
  dirInput.addEventListener("change", () => startUploads([...dirInput.files]));
  const drop = h("div", { class: "drop", id: "drop" }, "Drop files or folders here, or ",
    h("label", { for: "file-input", class: "button", tabindex: "0", role: "button", id: "choose-files" }, "choose files"), " ",
    h("label", { for: "folder-input", class: "button", tabindex: "0", role: "button", id: "choose-folder" }, "choose a folder"),
    fileInput, dirInput);
  for (const lab of drop.querySelectorAll("label.button")) lab.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); document.getElementById(lab.htmlFor).click(); }
  });
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (ev) => {
    ev.preventDefault(); drop.classList.remove("over");
    const entries = [...ev.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    startUploads(entries.length ? await walkEntries(entries) : [...ev.dataTransfer.files]);
  });
  const folderName = h("input", { id: "folder-name", "aria-label": "New folder name", placeholder: "folder name" });
  const folderForm = h("form", { class: "row" }, folderName, h("button", { type: "submit" }, "Create folder"));
  folderForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (await guarded(() => call("POST", "folder", { bucket, key: prefix + folderName.value.trim() }))) render();
  });
  const del = h("button", { type: "button", class: "danger", id: "delete-selected" }, "Delete selected");
  del.addEventListener("click", async () => {
    const keys = [...body.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.dataset.key);
    if (!keys.length || !await confirmDialog(`Delete ${keys.length} object(s)? ${keys.join(", ")}`)) return;
    for (const key of keys) await guarded(() => call("DELETE", "object", { bucket, key }));
    render();
  });
  const nav = h("div", { class: "row pager" });
  if (after) nav.append(h("a", { href: link("/browse", { bucket, prefix, search }) }, "⏮ First page"));
  if (data.truncated) nav.append(h("a", { id: "next-page", href: link("/browse", { bucket, prefix, search, after: data.next }) }, "Next page ⏭"));
  page(bucket, crumbs(bucket, prefix),
    h("div", { class: "row" }, h("a", { href: link("/settings", { bucket }) }, "Bucket settings"), " · ",
      h("a", { href: link("/versions", { bucket, prefix }) }, "Versions")),
    searchForm, drop, progress, folderForm,
    h("table", { id: "objects", "data-render-ms": String(Math.round(performance.now() - t0)) },
      h("thead", {}, h("tr", {}, ["", "Name", "Size", "Modified", ""].map((t) => h("th", { scope: "col" }, t)))), body),
    h("div", { class: "row" }, del), nav);
  main.querySelector("#objects").dataset.renderMs = String(Math.round(performance.now() - t0));
}

// -- one object -------------------------------------------------------------------------------------
function protectionText(p) {
  const out = [];
  if (p.legal_hold) out.push("Legal hold ON: no version delete or overwrite until it is removed.");
  if (p.retention) out.push(`${p.retention.mode} retention until ${p.retention.until}` +
    (p.retention.active ? (p.retention.mode === "COMPLIANCE" ? ": nobody can delete this version before then."
      : ": deleting before then needs the bypass-governance permission.") : " (expired)."));
  if (p.ibm) {
    out.push(`IBM retention: ${p.ibm.period === -2 ? "permanent" : p.ibm.period === -1 ? "indefinite" : "until " + p.ibm.until}.`);
    for (const hold of p.ibm.holds) out.push(`IBM legal hold "${hold.id}" since ${hold.date}.`);
  }
  return out.length ? out : ["Not protected: this version can be deleted."];
}

async function preview(bucket, key, info) {
  const box = h("section", { id: "preview", "aria-label": "Preview" }, h("h2", {}, "Preview"));
  const ct = (info.content_type || "").split(";")[0];
  const src = url("content", { bucket, key, version_id: info.version_id && info.version_id !== "null" ? info.version_id : undefined });
  if (ct.startsWith("image/") && ct !== "image/svg+xml") box.append(h("img", { src, alt: key, class: "preview-img" }));
  else if (ct === "application/pdf") box.append(h("iframe", { src, title: "PDF preview of " + key, class: "preview-pdf" }));
  else if (ct.startsWith("text/") || ct === "application/json" || /\.(txt|md|json|csv|log|py|js)$/i.test(key)) {
    const resp = await fetch(src, { headers: { Range: "bytes=0-262143" } });
    let text = await resp.text();
    if (ct === "application/json" || key.endsWith(".json")) { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* as is */ } }
    box.append(h("pre", { class: "preview-text", tabindex: "0" }, text));
  } else box.append(h("p", {}, "No preview for " + (ct || "this type") + "."));
  return box;
}

function placementCard(pl, sums, sumType) {
  const card = h("section", { class: "card", id: "placement" }, h("h2", {}, "Storage and integrity"));
  const rows = Object.entries(sums || {}).map(([a, v]) => h("tr", {}, h("th", { scope: "row" }, a.toUpperCase()), h("td", { class: "mono" }, v)));
  card.append(h("h3", {}, "Checksums" + (sumType ? ` (${sumType.toLowerCase()})` : "")),
    rows.length ? h("table", { id: "checksums" }, h("tbody", {}, rows)) : h("p", {}, "No additional checksum was stored with this object (the ETag is its MD5 or the MD5 of its parts)."));
  if (!pl) return card;
  if (pl.inline) { card.append(h("p", { id: "placement-summary" }, "Stored inline in the metadata (a small object): no data fragments.")); return card; }
  card.append(h("p", { id: "placement-summary" }, `Policy ${pl.policy || "unknown"} · ${pl.segments.length} segment(s) · ${pl.state}`));
  const body = h("tbody", {});
  for (const seg of pl.segments) for (const f of seg.fragments) body.append(h("tr", { class: "fragment" },
    h("td", {}, String(seg.pos)), h("td", {}, seg.policy || ""), h("td", {}, `${seg.state}${seg.width ? ` (${seg.good}/${seg.width})` : ""}`),
    h("td", {}, String(f.index ?? 0)), h("td", { class: "mono" }, [f.node ? "node " + f.node + " · " : "", f.volume || "", f.volume_path ? ` ${f.volume_path}` : ""].join("") || (f.path ? f.path : "—")),
    h("td", {}, f.status), h("td", { class: "num" }, size(f.size))));
  card.append(h("table", { id: "fragments" }, h("thead", {}, h("tr", {}, ["Segment", "Policy", "State", "Fragment", "Where", "Status", "Size"].map((t) => h("th", { scope: "col" }, t)))), body));
  return card;
}

async function objectView(id, q) {
  const bucket = q.get("bucket"), key = q.get("key");
  const info = await guarded(() => call("GET", "object", { bucket, key }));
  if (!info || id !== viewId) return;
  const prefix = key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : "";
  const dl = (k, v) => [h("dt", {}, k), h("dd", {}, v ?? "")];
  const details = h("dl", { class: "details" },
    dl("Size", `${size(info.size)} (${info.size} bytes)`), dl("ETag", info.etag), dl("Content type", info.content_type),
    dl("Modified", info.last_modified), dl("Version", info.version_id || "—"), dl("Storage class", info.storage_class),
    dl("Storage policy", info.storage_policy || "default"), dl("Encrypted", info.encrypted ? "yes" : "no"),
    dl("Checksums", Object.entries(info.checksums).map(([a, v]) => `${a}: ${v}`).join(", ") || "—"),
    dl("Metadata", Object.entries(info.metadata).map(([a, v]) => `${a}=${v}`).join(", ") || "—"));
  // tags
  const tags = h("textarea", { id: "tags", rows: 3, "aria-label": "Tags, one key=value a line" },
    Object.entries(info.tags).map(([k, v]) => `${k}=${v}`).join("\n"));
  const tagForm = h("form", { class: "card" }, h("h2", {}, "Tags"), tags, h("button", { type: "submit" }, "Save tags"));
  tagForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const doc = {};
    for (const line of tags.value.split("\n")) if (line.includes("=")) { const i = line.indexOf("="); doc[line.slice(0, i).trim()] = line.slice(i + 1).trim(); }
    if (await guarded(() => call("PUT", "tags", { bucket, key }, { tags: doc }))) toast("Tags saved", "ok");
  });
  // share
  const exp = h("select", { id: "share-expiry", "aria-label": "Link expiry" },
    [["60", "1 minute"], ["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"]].map(([v, t]) => h("option", { value: v, selected: v === "3600" }, t)));
  const shareOut = h("input", { id: "share-url", readonly: true, "aria-label": "Share link", class: "wide" });
  const shareForm = h("form", { class: "card" }, h("h2", {}, "Share"), h("div", { class: "row" }, exp,
    h("button", { type: "submit", id: "share-button" }, "Make link")), shareOut);
  shareForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await guarded(() => call("POST", "share", { bucket, key, expires: exp.value }));
    if (r) { shareOut.value = r.url; shareOut.select(); toast(`Link valid until ${r.expires}`, "ok"); }
  });
  // protection
  const prot = h("section", { class: "card", id: "protection" }, h("h2", {}, "Protection"),
    h("ul", {}, protectionText(info.protection).map((t) => h("li", {}, t))));
  if (info.object_lock) {
    const hold = h("button", { type: "button", id: "legal-hold-toggle" }, info.protection.legal_hold ? "Remove legal hold" : "Set legal hold");
    hold.addEventListener("click", async () => {
      if (await guarded(() => call("PUT", "legal-hold", { bucket, key, version_id: info.version_id }, { on: !info.protection.legal_hold }))) render();
    });
    const mode = h("select", { id: "ret-mode", "aria-label": "Retention mode" }, ["GOVERNANCE", "COMPLIANCE"].map((m) => h("option", {}, m)));
    const until = h("input", { id: "ret-until", type: "datetime-local", "aria-label": "Retain until" });
    const ret = h("form", { class: "row" }, mode, until, h("button", { type: "submit" }, "Set retention"));
    ret.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (await guarded(() => call("PUT", "retention", { bucket, key, version_id: info.version_id }, { mode: mode.value, until: until.value }))) render();
    });
    prot.append(hold, ret);
  }
  if (info.ibm_protection && info.protection.ibm) {
    const holdId = h("input", { id: "ibm-hold-id", pattern: "[A-Za-z0-9!_.*()\\-]{1,64}" });
    const holds = h("ul", { class: "plain", id: "ibm-holds" }, info.protection.ibm.holds.map((hold) => {
      const rm = h("button", { type: "button", class: "secondary ibm-hold-remove", "data-hold": hold.id,
        "aria-label": `Remove legal hold ${hold.id}` }, "Remove");
      rm.addEventListener("click", async () => {
        if (await guarded(() => call("POST", "ibm-hold", { bucket, key }, { remove: hold.id }))) { toast(`Legal hold ${hold.id} removed`, "ok"); render(); }
      });
      return h("li", {}, `${hold.id} (since ${hold.date}) `, rm);
    }));
    const addHold = h("form", { class: "row", id: "ibm-hold-form" }, field("IBM legal hold ID", holdId),
      h("button", { type: "submit", id: "ibm-hold-add" }, "Add legal hold"));
    addHold.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (await guarded(() => call("POST", "ibm-hold", { bucket, key }, { add: holdId.value.trim() }))) { toast(`Legal hold ${holdId.value.trim()} added`, "ok"); render(); }
    });
    prot.append(h("h3", {}, "IBM legal holds"), holds, addHold);
  }
  const delBtn = h("button", { type: "button", class: "danger", id: "delete-object" }, "Delete object");
  delBtn.addEventListener("click", async () => {
    if (!await confirmDialog(`Delete ${key}?`)) return;
    if (await guarded(() => call("DELETE", "object", { bucket, key }))) location.hash = link("/browse", { bucket, prefix });
  });
  page(key.slice(prefix.length) || key, crumbs(bucket, prefix),
    h("div", { class: "row" }, h("a", { class: "button", href: url("content", { bucket, key, download: 1 }), download: "" }, "Download"),
      h("a", { class: "button", href: link("/versions", { bucket, prefix: key, exact: 1 }) }, "Version history"), delBtn),
    h("div", { class: "grid" }, h("section", { class: "card" }, h("h2", {}, "Details"), details), prot, tagForm, shareForm),
    placementCard(info.placement, info.checksums, info.checksum_type),
    await preview(bucket, key, info));
}

async function versionsView(id, q) {
  const bucket = q.get("bucket"), prefix = q.get("prefix") || "", exact = q.get("exact") === "1";
  const data = await guarded(() => call("GET", "versions", { bucket, prefix, key_marker: q.get("km"), version_id_marker: q.get("vm") }));
  if (!data || id !== viewId) return;
  const rows = data.versions.filter((v) => !exact || v.key === prefix).map((v) => {
    const vid = v.version_id;
    const actions = h("td", { class: "actions" });
    if (!v.delete_marker) {
      actions.append(h("a", { href: url("content", { bucket, key: v.key, version_id: vid, download: 1 }) }, "Download"));
      if (!v.latest) {
        const restore = h("button", { type: "button", class: "restore", "data-version": vid }, "Restore");
        restore.addEventListener("click", async () => {
          if (await guarded(() => call("POST", "restore", { bucket, key: v.key, version_id: vid }))) { toast("Restored as the current version", "ok"); render(); }
        });
        actions.append(restore);
      }
    }
    const del = h("button", { type: "button", class: "danger delete-version", "data-version": vid }, "Delete");
    del.addEventListener("click", async () => {
      if (!await confirmDialog(`Delete version ${vid} of ${v.key} for good?`)) return;
      if (await guarded(() => call("DELETE", "object", { bucket, key: v.key, version_id: vid }))) render();
    });
    actions.append(del);
    const prot = protectionText(v.protection);
    return h("tr", { class: v.delete_marker ? "marker" : "" },
      h("td", {}, v.key), h("td", { class: "mono" }, vid), h("td", {}, v.delete_marker ? "delete marker" : size(v.size)),
      h("td", {}, v.last_modified), h("td", {}, v.latest ? "current" : ""),
      h("td", {}, v.protection.legal_hold || v.protection.retention || v.protection.ibm ? prot.join(" ") : ""), actions);
  });
  const nav = h("div", { class: "row pager" });
  if (data.truncated) nav.append(h("a", { href: link("/versions", { bucket, prefix, km: data.next_key_marker, vm: data.next_version_id_marker || "" }) }, "Next page ⏭"));
  page("Versions", crumbs(bucket, exact ? prefix.slice(0, prefix.lastIndexOf("/") + 1) : prefix),
    h("table", { id: "versions" }, h("thead", {}, h("tr", {}, ["Key", "Version", "Size", "Modified", "", "Protection", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)), nav);
}

// -- bucket settings --------------------------------------------------------------------------------
async function settingsView(id, q) {
  const bucket = q.get("bucket");
  const s = await guarded(() => call("GET", "settings", { bucket }));
  if (!s || id !== viewId) return;
  const ver = h("select", { id: "versioning", "aria-label": "Versioning" }, ["Enabled", "Suspended"].map((v) => h("option", { selected: s.versioning === v }, v)));
  const verForm = h("form", { class: "card" }, h("h2", {}, "Versioning"), h("p", {}, "Now: " + (s.versioning || "never enabled")),
    h("div", { class: "row" }, ver, h("button", { type: "submit" }, "Apply")));
  verForm.addEventListener("submit", async (ev) => {
    ev.preventDefault(); if (await guarded(() => call("PUT", "versioning", { bucket }, { status: ver.value }))) render();
  });
  const jsonEditor = (title, idBase, value, save) => {
    const area = h("textarea", { id: idBase, rows: 10, spellcheck: "false", "aria-describedby": idBase + "-error" }, value ? JSON.stringify(value, null, 2) : "");
    const err = h("p", { class: "error", id: idBase + "-error", role: "alert" });
    const form = h("form", { class: "card" }, h("h2", {}, h("label", { for: idBase }, title)), area, err,
      h("button", { type: "submit", id: idBase + "-save" }, "Save"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault(); err.textContent = "";
      try { await save(area.value); toast(title + " saved", "ok"); } catch (e) { err.textContent = errText(e); }
    });
    return form;
  };
  const policy = jsonEditor("Bucket policy (JSON)", "policy", s.policy ? JSON.parse(s.policy) : null,
    (text) => call("PUT", "policy", { bucket }, { policy: text }));
  const lifecycle = jsonEditor("Lifecycle rules (JSON list)", "lifecycle", s.lifecycle, (text) => {
    let rules;
    try { rules = text.trim() ? JSON.parse(text) : null; } catch (e) { throw new Error("Not JSON: " + e.message); }
    return call("PUT", "lifecycle", { bucket }, { rules });
  });
  const again = () => {};  // the forms show what was saved; a re-render would drop edits in the other forms
  const notes = await call("GET", "notifications", { bucket }).catch(() => null);
  const kms = me.admin ? await call("GET", "kms").catch(() => null) : null;
  const quota = h("section", { class: "card", id: "owner-quota" }, h("h2", {}, "Quota of the owner"),
    h("p", {}, s.quota && Object.keys(s.quota.quota || {}).length ? quotaText(s.quota) : "No quota."),
    me.admin ? h("a", { href: link("/quota", { user: s.owner }), id: "edit-quota" }, "Edit the quota of " + s.owner) : "");
  const lock = h("section", { class: "card" }, h("h2", {}, "Protection"),
    h("p", {}, s.object_lock ? "S3 Object Lock is enabled: versions can carry retention and legal holds." : "Object Lock is off."),
    h("p", { id: "ibm-protection-text" }, s.protection ? `IBM protection: objects are kept ${s.protection.default} days by default ` +
      `(at least ${s.protection.min}, at most ${s.protection.max})${s.protection.permanent ? "; permanent retention is allowed" : ""}. ` +
      "Protected objects cannot be deleted or overwritten before their retention ends, nor while a legal hold is on them." : "No IBM protection configuration."));
  const ibmForm = s.object_lock || s.versioning ? "" : protectionForm(bucket, s.protection);
  const delBucket = h("button", { type: "button", class: "danger", id: "delete-bucket" }, "Delete bucket");
  delBucket.addEventListener("click", async () => {
    if (!await confirmDialog(`Delete the bucket ${bucket}? It must be empty.`)) return;
    if ((await guarded(() => call("DELETE", "buckets", { bucket }))) !== undefined) location.hash = "#/buckets";
  });
  page("Settings of " + bucket, crumbs(bucket, ""),
    h("p", {}, `Owner ${s.owner} · ${s.objects} objects · ${size(s.bytes)} · created ${s.created}`),
    h("div", { class: "grid" }, verForm, lock, quota), ibmForm,
    h("div", { class: "grid wide-cards" }, encryptionForm(bucket, s.encryption, kms?.keys, again), websiteForm(bucket, s.website, again)),
    corsForm(bucket, s.cors, again), lifecycleForm(bucket, s.lifecycle, again),
    notes ? notificationsForm(bucket, notes, again) : "",
    policy, h("details", { class: "card" }, h("summary", {}, "Lifecycle rules as JSON"), lifecycle), delBucket);
}

// -- administration -----------------------------------------------------------------------------------
function secretOnce(doc) {
  const box = h("div", { class: "card secret", role: "status", id: "secret-once" },
    h("p", {}, "Copy the secret now: it is shown only once."),
    doc.api_key ? h("p", { class: "mono" }, `API key: ${doc.api_key}`)
      : [h("p", { class: "mono" }, `Access key: ${doc.access_key}`), h("p", { class: "mono" }, `Secret key: ${doc.secret_key}`)]);
  main.prepend(box);
}

async function adminView(id) {
  const data = await guarded(() => call("GET", "users"));
  if (!data || id !== viewId) return;
  const uid = h("input", { id: "new-user", "aria-label": "New user id", placeholder: "user id" });
  const adm = h("input", { type: "checkbox", id: "new-user-admin" });
  const form = h("form", { class: "row" }, uid, h("label", {}, adm, " admin"), h("button", { type: "submit" }, "Create user"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await guarded(() => call("POST", "users", {}, { id: uid.value.trim(), admin: adm.checked }));
    if (r) { await adminView(id); if (r.secret_key) secretOnce(r); }
  });
  const rows = [];
  for (const u of data.users) {
    const keys = h("ul", { class: "plain" });
    for (const k of u.keys) {
      const rot = h("button", { type: "button" }, "Rotate");
      rot.addEventListener("click", async () => { const r = await guarded(() => call("POST", "rotate", { key: k.access_key })); if (r) { await adminView(id); secretOnce(r); } });
      const dis = h("button", { type: "button" }, k.status === "active" ? "Disable" : "Enable");
      dis.addEventListener("click", async () => { if (await guarded(() => call("PUT", "key-status", { key: k.access_key }, { status: k.status === "active" ? "disabled" : "active" }))) adminView(id); });
      keys.append(h("li", {}, h("span", { class: "mono" }, k.access_key), ` (${k.status}) `, rot, dis));
    }
    const add = h("button", { type: "button", "aria-label": "New S3 key for " + u.id }, "New key");
    add.addEventListener("click", async () => { const r = await guarded(() => call("POST", "keys", {}, { user: u.id })); if (r) { await adminView(id); secretOnce(r); } });
    const addApi = h("button", { type: "button", class: "secondary new-api-key", "data-user": u.id, "aria-label": "New API key for " + u.id }, "New API key");
    addApi.addEventListener("click", async () => { const r = await guarded(() => call("POST", "keys", {}, { user: u.id, type: "apikey" })); if (r) { await adminView(id); secretOnce(r); } });
    rows.push(h("tr", {}, h("td", {}, u.id), h("td", {}, u.display_name || ""), h("td", {}, u.admin ? "admin" : ""),
      h("td", {}, keys, add, " ", addApi), h("td", {}, u.quota && Object.keys(u.quota).length ? JSON.stringify(u.quota) : "none", " ",
        h("a", { href: link("/quota", { user: u.id }), "aria-label": "Edit the quota of " + u.id }, "Edit"))));
  }
  page("Users and keys", form, h("table", { id: "users" },
    h("thead", {}, h("tr", {}, ["User", "Name", "Role", "Keys", "Quota"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)));
}

function protectionForm(bucket, p) {
  const num = (id, v) => h("input", { id, type: "number", min: 0, max: 365243, required: true, value: v ?? "" });
  const min = num("prot-min", p?.min ?? 0), def = num("prot-default", p?.default ?? 0), max = num("prot-max", p?.max ?? 0);
  const perm = h("input", { id: "prot-permanent", type: "checkbox", checked: !!p?.permanent });
  return formCard("IBM protection (retention periods)", "protection", h("div", {},
    h("p", { class: "hint" }, "Once set, the minimum and maximum can only grow and permanent retention cannot be turned off again."),
    h("div", { class: "fields" }, field("Minimum (days)", min), field("Default (days)", def), field("Maximum (days)", max),
      field("Allow permanent retention", perm))), async () => {
    if (!await confirmDialog(`Set the protection of ${bucket}? It cannot be loosened afterwards.`, "Set protection")) return "Not changed";
    await call("PUT", "protection", { bucket }, { minimum: Number(min.value), default: Number(def.value), maximum: Number(max.value), permanent: perm.checked });
    render();
    return "Protection saved";
  });
}

function quotaText(q) {
  const lim = q.quota || {}, use = q.usage || {};
  const part = (name, used, max, fmt) => `${name} ${fmt(used ?? 0)}${max !== undefined ? " of " + fmt(max) : " (no limit)"}`;
  return [part("size", use.bytes, lim.max_bytes, size), part("objects", use.objects, lim.max_objects, String),
    part("buckets", use.buckets, lim.max_buckets, String)].join(" · ");
}

async function quotaView(id, q) {
  const user = q.get("user");
  const data = await guarded(() => call("GET", "quota", { user }));
  if (!data || id !== viewId) return;
  page("Quota of " + user, h("p", { id: "quota-usage" }, "Now: " + quotaText(data)),
    quotaForm(user, data, () => { if (id === viewId) render(); }),
    h("p", {}, h("a", { href: "#/admin" }, "All users")));
}

async function healthView(id) {
  const data = await guarded(() => call("GET", "health"));
  if (!data || id !== viewId) return;
  const vols = data.volumes.length ? h("table", { id: "volumes" },
    h("thead", {}, h("tr", {}, ["Volume", "State", "Capacity", "Free"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, data.volumes.map((v) => h("tr", {}, h("td", {}, v.path || v.uuid), h("td", {}, v.state),
      h("td", { class: "num" }, size(v.capacity ?? v.total)), h("td", { class: "num" }, size(v.free))))))
    : h("p", {}, "Data is kept in one folder (no volumes configured).");
  const canvas = (cid, label) => h("figure", { class: "chart" }, h("canvas", { id: cid, role: "img", "aria-label": label, height: 140 }), h("figcaption", {}, label));
  const charts = h("div", { class: "grid" }, canvas("chart-requests", "Requests per second"),
    canvas("chart-throughput", "Throughput (bytes per second in and out)"), canvas("chart-errors", "Errors per second"));
  page("Health", h("p", {}, `Repair queue: ${data.repair_queue ?? 0}`), vols, charts);
  startCharts({ requests: main.querySelector("#chart-requests"), throughput: main.querySelector("#chart-throughput"),
    errors: main.querySelector("#chart-errors") }, () => id === viewId);
}

// -- routing ----------------------------------------------------------------------------------------
async function render() {
  const id = ++viewId;
  if (!me) {
    try { me = await call("GET", "session"); setCsrf(me.csrf); } catch { me = null; }
  }
  showSession();
  const { path, q } = params();
  if (!me) return loginView();
  if (path === "/login") { location.hash = "#/buckets"; return; }
  const views = { "/buckets": bucketsView, "/browse": browseView, "/object": objectView, "/versions": versionsView,
    "/settings": settingsView, "/admin": adminView, "/quota": quotaView, "/health": healthView };
  const shell = { page, guarded, current: () => id === viewId, q };
  for (const [p, fn] of [["/kms", kmsView], ["/tokens", tokensView], ["/jobs", jobsView], ["/job", jobView]])
    views[p] = () => fn(shell);
  const view = views[path] || bucketsView;
  main.setAttribute("aria-busy", "true");
  try { await view(id, q); } finally { main.removeAttribute("aria-busy"); }
  if (id === viewId) { main.dataset.view = path; main.dataset.renderedAt = String(Math.round(performance.now())); }
}

document.getElementById("logout").addEventListener("click", async () => {
  await guarded(() => call("POST", "logout"));
  me = null; setCsrf(""); toLogin();
});
window.addEventListener("hashchange", render);
render();
