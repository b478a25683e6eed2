// DOM helpers shared by the console's views: elements built with DOM calls (never innerHTML with data).
import { ApiError } from "./api.js";

export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false)
    el.append(kid instanceof Node ? kid : String(kid));
  return el;
}

export function size(n) {
  if (n === null || n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

export function toast(msg, kind = "error") {
  const t = document.getElementById("toast");
  t.textContent = msg; t.className = kind; t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

export function errText(e) { return e instanceof ApiError ? `${e.code}: ${e.message}` : String(e.message || e); }

let uid = 0;
// A labelled control: <label for=id>text</label><control id=id>, wrapped in a div.field.
export function field(text, control, hint) {
  if (!control.id) control.id = "f" + (++uid);
  const kids = [h("label", { for: control.id }, text), control];
  if (hint) {
    const hid = control.id + "-hint";
    control.setAttribute("aria-describedby", hid);
    kids.push(h("small", { id: hid, class: "hint" }, hint));
  }
  return h("div", { class: "field" }, kids);
}

export function lines(text) { return text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean); }

// A form card whose errors are shown inline under it (role=alert): save() may throw.
export function formCard(title, idBase, body, save, saveLabel = "Save") {
  const err = h("p", { class: "error", id: idBase + "-error", role: "alert" });
  const form = h("form", { class: "card", id: idBase + "-form", "aria-labelledby": idBase + "-title" },
    h("h2", { id: idBase + "-title" }, title), body, err,
    h("div", { class: "row" }, h("button", { type: "submit", id: idBase + "-save" }, saveLabel)));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault(); err.textContent = "";
    try { const msg = await save(); toast(msg || title + " saved", "ok"); } catch (e) { err.textContent = errText(e); }
  });
  return form;
}
