// The console's client for its JSON API (same origin; the session is an HttpOnly cookie).
const BASE = "/_coffer/console/api/";
let csrf = "";

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

export function setCsrf(token) { csrf = token || ""; }

export function url(name, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, v);
  const s = q.toString();
  return BASE + name + (s ? "?" + s : "");
}

async function failure(resp) {
  let code = "HTTP" + resp.status, message = resp.statusText;
  try { const doc = await resp.json(); code = doc.error.code; message = doc.error.message; } catch { /* not JSON */ }
  return new ApiError(resp.status, code, message);
}

export async function call(method, name, params = {}, body = undefined) {
  const headers = {};
  if (method !== "GET") headers["X-Coffer-CSRF"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url(name, params), {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) throw await failure(resp);
  if (resp.status === 204) return null;
  return resp.json();
}

// A PUT of raw bytes with upload progress (fetch reports none): resolves to the JSON answer.
export function putBytes(name, params, blob, contentType, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url(name, params));
    xhr.setRequestHeader("X-Coffer-CSRF", csrf);
    xhr.setRequestHeader("Content-Type", contentType || "application/octet-stream");
    xhr.upload.onprogress = (e) => onProgress && onProgress(e.loaded);
    xhr.onload = () => {
      let doc = null;
      try { doc = JSON.parse(xhr.responseText); } catch { /* empty */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(doc);
      else reject(new ApiError(xhr.status, doc?.error?.code || "HTTP" + xhr.status, doc?.error?.message || xhr.statusText));
    };
    xhr.onerror = () => reject(new ApiError(0, "NetworkError", "The upload was interrupted."));
    xhr.onabort = () => reject(new ApiError(0, "Aborted", "The upload was cancelled."));
    if (signal) signal.addEventListener("abort", () => xhr.abort());
    xhr.send(blob);
  });
}
