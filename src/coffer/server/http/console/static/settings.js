// Bucket settings forms: lifecycle rules, CORS, website, default encryption, notifications.
// Each is a form card that saves through the JSON API and shows the server's error under itself.
import { call } from "./api.js";
import { field, formCard, h, lines } from "./dom.js";

const num = (v) => (v === "" || v === null || v === undefined ? undefined : Number(v));

// A list of fieldsets, one per item, with "Add" and per-item "Remove" buttons.
function repeater(idBase, noun, items, makeItem) {
  const list = h("div", { class: "repeat", id: idBase + "-items" });
  const add = (item, focus) => {
    const n = list.children.length + 1;
    const rm = h("button", { type: "button", class: "secondary remove-item" }, `Remove ${noun} ${n}`);
    const { el, read } = makeItem(item || {}, n);
    const fs = h("fieldset", { class: "item" }, h("legend", {}, `${noun[0].toUpperCase() + noun.slice(1)} ${n}`), el, rm);
    fs.read = read;
    rm.addEventListener("click", () => fs.remove());
    list.append(fs);
    if (focus) fs.querySelector("input, select, textarea")?.focus();
  };
  for (const item of items) add(item, false);
  const addBtn = h("button", { type: "button", class: "secondary", id: idBase + "-add" }, `Add ${noun}`);
  addBtn.addEventListener("click", () => add(null, true));
  return { el: h("div", {}, list, addBtn), read: () => [...list.children].map((fs) => fs.read()) };
}

// -- lifecycle ------------------------------------------------------------------------------------------
export function lifecycleForm(bucket, rules, onSaved) {
  const rep = repeater("lc-rules", "rule", rules || [], (r, n) => {
    const id = h("input", { class: "lc-id", value: r.id || `rule-${n}` });
    const status = h("select", { class: "lc-status" }, ["Enabled", "Disabled"].map((s) => h("option", { selected: r.status === s }, s)));
    const prefix = h("input", { class: "lc-prefix", value: r.filter?.prefix || "" });
    const exp = r.expiration || {};
    const days = h("input", { class: "lc-days", type: "number", min: 1, value: exp.days ?? "" });
    const marker = h("input", { class: "lc-marker", type: "checkbox", checked: !!exp.expired_marker });
    const ncDays = h("input", { class: "lc-nc-days", type: "number", min: 1, value: r.noncurrent?.days ?? "" });
    const ncNewer = h("input", { class: "lc-nc-newer", type: "number", min: 1, max: 100, value: r.noncurrent?.newer ?? "" });
    const abort = h("input", { class: "lc-abort", type: "number", min: 1, value: r.abort_mpu ?? "" });
    const el = h("div", { class: "fields" }, field("Rule ID", id), field("Status", status),
      field("Key prefix", prefix, "empty: the whole bucket"), field("Expire current versions after (days)", days),
      field("Remove expired delete markers", marker), field("Expire noncurrent versions after (days)", ncDays),
      field("Keep this many newer noncurrent versions", ncNewer),
      field("Abort unfinished multipart uploads after (days)", abort));
    const read = () => {
      const rule = { id: id.value.trim(), status: status.value, filter: { prefix: prefix.value } };
      if (r.filter?.tags) rule.filter.tags = r.filter.tags;  // kept: set by an S3 client, not by this form
      if (days.value) rule.expiration = { days: num(days.value) };
      else if (marker.checked) rule.expiration = { expired_marker: true };
      else if (exp.date !== undefined) rule.expiration = { date: exp.date };
      if (ncDays.value) rule.noncurrent = { days: num(ncDays.value), newer: num(ncNewer.value) ?? null };
      if (abort.value) rule.abort_mpu = num(abort.value);
      return rule;
    };
    return { el, read };
  });
  return formCard("Lifecycle rules", "lc-rules", rep.el, async () => {
    const rules = rep.read();
    await call("PUT", "lifecycle", { bucket }, { rules: rules.length ? rules : null });
    onSaved();
    return rules.length ? `${rules.length} lifecycle rule(s) saved` : "Lifecycle rules removed";
  });
}

// -- CORS -----------------------------------------------------------------------------------------------
const METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"];

export function corsForm(bucket, doc, onSaved) {
  const rep = repeater("cors", "rule", doc?.rules || [], (r) => {
    const origins = h("textarea", { class: "cors-origins", rows: 2 }, (r.AllowedOrigin || []).join("\n"));
    const boxes = METHODS.map((m) => h("input", { type: "checkbox", class: "cors-method", value: m,
      checked: (r.AllowedMethod || []).includes(m) }));
    const methods = h("fieldset", { class: "inline" }, h("legend", {}, "Allowed methods"),
      METHODS.map((m, i) => h("label", {}, boxes[i], " " + m)));
    const headers = h("textarea", { class: "cors-headers", rows: 2 }, (r.AllowedHeader || []).join("\n"));
    const expose = h("textarea", { class: "cors-expose", rows: 2 }, (r.ExposeHeader || []).join("\n"));
    const maxAge = h("input", { class: "cors-max-age", type: "number", min: 0, value: r.MaxAgeSeconds ?? "" });
    const el = h("div", { class: "fields" }, field("Allowed origins (one a line)", origins), methods,
      field("Allowed headers (one a line)", headers), field("Exposed headers (one a line)", expose),
      field("Max age (seconds)", maxAge));
    const read = () => ({ ID: r.ID || null, AllowedOrigin: lines(origins.value),
      AllowedMethod: boxes.filter((b) => b.checked).map((b) => b.value), AllowedHeader: lines(headers.value),
      ExposeHeader: lines(expose.value), MaxAgeSeconds: maxAge.value === "" ? null : num(maxAge.value) });
    return { el, read };
  });
  return formCard("CORS", "cors", rep.el, async () => {
    const rules = rep.read();
    await call("PUT", "bucket-config", { bucket, name: "cors" }, rules.length ? { doc: { rules } } : {});
    onSaved();
    return rules.length ? "CORS saved" : "CORS removed";
  });
}

// -- website --------------------------------------------------------------------------------------------
export function websiteForm(bucket, doc, onSaved) {
  doc = doc || {};
  const mode = h("select", { id: "web-mode" }, [["off", "Off"], ["serve", "Serve the bucket as a website"],
    ["redirect", "Redirect every request to another host"]].map(([v, t]) => h("option", { value: v,
    selected: v === (doc.RedirectAllRequestsTo ? "redirect" : doc.IndexDocument ? "serve" : "off") }, t)));
  const index = h("input", { id: "web-index", value: doc.IndexDocument?.Suffix || "index.html" });
  const error = h("input", { id: "web-error", value: doc.ErrorDocument?.Key || "" });
  const routing = h("textarea", { id: "web-routing", rows: 4, spellcheck: "false" },
    doc.RoutingRules ? JSON.stringify(doc.RoutingRules, null, 2) : "");
  const host = h("input", { id: "web-host", value: doc.RedirectAllRequestsTo?.HostName || "" });
  const proto = h("select", { id: "web-protocol" }, [["", "same as the request"], ["http", "http"], ["https", "https"]]
    .map(([v, t]) => h("option", { value: v, selected: (doc.RedirectAllRequestsTo?.Protocol || "") === v }, t)));
  const serve = h("div", { class: "fields" }, field("Index document suffix", index), field("Error document key", error),
    field("Routing rules (JSON list)", routing, "S3's RoutingRules: [{\"Condition\": {...}, \"Redirect\": {...}}]"));
  const redirect = h("div", { class: "fields" }, field("Host name", host), field("Protocol", proto));
  const show = () => { serve.hidden = mode.value !== "serve"; redirect.hidden = mode.value !== "redirect"; };
  mode.addEventListener("change", show); show();
  return formCard("Website", "website", h("div", {}, field("Mode", mode), serve, redirect), async () => {
    let body = {};
    if (mode.value === "serve") {
      let rules;
      try { rules = routing.value.trim() ? JSON.parse(routing.value) : undefined; } catch (e) { throw new Error("Routing rules are not JSON: " + e.message); }
      body = { doc: { IndexDocument: { Suffix: index.value.trim() }, ErrorDocument: error.value.trim() ? { Key: error.value.trim() } : undefined, RoutingRules: rules } };
    } else if (mode.value === "redirect") {
      body = { doc: { RedirectAllRequestsTo: { HostName: host.value.trim(), Protocol: proto.value || null } } };
    }
    await call("PUT", "bucket-config", { bucket, name: "website" }, body);
    onSaved();
    return mode.value === "off" ? "Website removed" : "Website saved";
  });
}

// -- default encryption -------------------------------------------------------------------------------------
export function encryptionForm(bucket, doc, kmsKeys, onSaved) {
  const alg = h("select", { id: "enc-algorithm" }, [["", "None"], ["AES256", "SSE-S3 (AES256)"], ["aws:kms", "SSE-KMS"]]
    .map(([v, t]) => h("option", { value: v, selected: (doc?.algorithm || "") === v }, t)));
  const key = h("input", { id: "enc-key", list: "enc-keys", value: doc?.kms_key_id || "" });
  const opts = h("datalist", { id: "enc-keys" }, (kmsKeys || []).map((k) => h("option", { value: k.id }, k.alias || k.description || k.id)));
  const bucketKey = h("input", { id: "enc-bucket-key", type: "checkbox", checked: !!doc?.bucket_key });
  const kmsPart = h("div", { class: "fields" }, field("KMS key (id, ARN or alias/name)", key, "empty: the default KMS key"), opts,
    field("Bucket key", bucketKey));
  const show = () => { kmsPart.hidden = alg.value !== "aws:kms"; };
  alg.addEventListener("change", show); show();
  return formCard("Default encryption", "encryption", h("div", {}, field("Algorithm", alg), kmsPart), async () => {
    const body = alg.value ? { doc: { algorithm: alg.value, kms_key_id: alg.value === "aws:kms" ? key.value.trim() || null : null,
      bucket_key: bucketKey.checked } } : {};
    await call("PUT", "bucket-config", { bucket, name: "encryption" }, body);
    onSaved();
    return alg.value ? "Default encryption saved" : "Default encryption removed";
  });
}

// -- notifications ----------------------------------------------------------------------------------------
const COMMON_EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectTagging:*", "s3:LifecycleExpiration:*"];

export function notificationsForm(bucket, data, onSaved) {
  const rep = repeater("notify", "webhook", data.configs, (c) => {
    const id = h("input", { class: "nt-id", value: c.id || "" });
    const url = h("input", { class: "nt-url", type: "url", value: c.url || "", placeholder: "https://host/path" });
    const chosen = new Set(c.events || []);
    const boxes = COMMON_EVENTS.map((e) => h("input", { type: "checkbox", class: "nt-event", value: e, checked: chosen.has(e) }));
    const others = h("input", { class: "nt-other", value: [...chosen].filter((e) => !COMMON_EVENTS.includes(e)).join(", ") });
    const prefix = h("input", { class: "nt-prefix", value: c.prefix || "" });
    const suffix = h("input", { class: "nt-suffix", value: c.suffix || "" });
    const el = h("div", { class: "fields" }, field("ID", id), field("Webhook URL", url),
      h("fieldset", { class: "inline" }, h("legend", {}, "Events"), COMMON_EVENTS.map((e, i) => h("label", {}, boxes[i], " " + e))),
      field("Other events (comma-separated)", others, "e.g. s3:ObjectCreated:Put"),
      field("Key prefix", prefix), field("Key suffix", suffix));
    const read = () => ({ id: id.value.trim(), url: url.value.trim(), prefix: prefix.value, suffix: suffix.value,
      events: [...boxes.filter((b) => b.checked).map((b) => b.value), ...lines(others.value)] });
    return { el, read };
  });
  return formCard("Event notifications (webhooks)", "notify", rep.el, async () => {
    const configs = rep.read();
    await call("PUT", "notifications", { bucket }, { configs });
    onSaved();
    return configs.length ? "Notifications saved" : "Notifications removed";
  });
}

// -- quota (admins) ------------------------------------------------------------------------------------------
const GiB = 1024 ** 3;

export function quotaForm(user, q, onSaved) {
  const quota = q.quota || {};
  const bytes = h("input", { id: "quota-gib", type: "number", min: 0, step: "any",
    value: quota.max_bytes !== undefined ? String(quota.max_bytes / GiB) : "" });
  const objects = h("input", { id: "quota-objects", type: "number", min: 0, value: quota.max_objects ?? "" });
  const buckets = h("input", { id: "quota-buckets", type: "number", min: 0, value: quota.max_buckets ?? "" });
  const body = h("div", { class: "fields" }, field("Maximum size (GiB)", bytes, "empty: no limit"),
    field("Maximum objects", objects, "empty: no limit"), field("Maximum buckets", buckets, "empty: no limit"));
  return formCard(`Quota of ${user}`, "quota", body, async () => {
    const doc = {};
    if (bytes.value !== "") doc.max_bytes = Math.round(Number(bytes.value) * GiB);
    if (objects.value !== "") doc.max_objects = Number(objects.value);
    if (buckets.value !== "") doc.max_buckets = Number(buckets.value);
    await call("PUT", "quota", { user }, doc);
    onSaved();
    return "Quota saved";
  });
}
