// Uploads: one PUT for small files, multipart for large ones (parallel parts, per-file progress),
// resumable after a page reload: the upload id is remembered per (bucket, key, file name, size, date)
// and the parts the server already holds are skipped.
import { call, putBytes } from "./api.js";

export const SINGLE_MAX = 16 * 1024 * 1024;
const CONCURRENCY = 4;

function partSize(size) {
  let p = 16 * 1024 * 1024;
  while (Math.ceil(size / p) > 10000) p *= 2;
  return p;
}

function memoKey(bucket, key, file) {
  return `coffer-upload:${bucket}:${key}:${file.name}:${file.size}:${file.lastModified}`;
}

// file: a File; onProgress(bytesSent, total). Returns the server's answer for the object.
export async function uploadFile(bucket, key, file, onProgress, signal) {
  const type = file.type || "application/octet-stream";
  if (file.size <= SINGLE_MAX) {
    return putBytes("object", { bucket, key }, file, type, (n) => onProgress(n, file.size), signal);
  }
  const size = partSize(file.size);
  const count = Math.ceil(file.size / size);
  const memo = memoKey(bucket, key, file);
  let uploadId = localStorage.getItem(memo);
  const done = new Map();
  if (uploadId) {
    try {
      const { uploads } = await call("GET", "uploads", { bucket, prefix: key });
      const found = uploads.find((u) => u.upload_id === uploadId && u.key === key);
      if (!found) uploadId = null;
      else for (const p of found.parts) {
        const expect = p.part === count ? file.size - (count - 1) * size : size;
        if (p.size === expect) done.set(p.part, p.etag);
      }
    } catch { uploadId = null; }
  }
  if (!uploadId) {
    uploadId = (await call("POST", "upload", { bucket, key }, { content_type: type })).upload_id;
    localStorage.setItem(memo, uploadId);
  }
  const sent = new Map();
  let resumed = 0;
  for (const n of done.keys()) resumed += n === count ? file.size - (count - 1) * size : size;
  const report = () => {
    let total = resumed;
    for (const v of sent.values()) total += v;
    onProgress(total, file.size);
  };
  report();
  const todo = [];
  for (let n = 1; n <= count; n++) if (!done.has(n)) todo.push(n);
  const worker = async () => {
    while (todo.length) {
      if (signal?.aborted) throw new Error("cancelled");
      const n = todo.shift();
      const start = (n - 1) * size;
      const blob = file.slice(start, Math.min(start + size, file.size));
      const answer = await putBytes("part", { bucket, key, upload_id: uploadId, part: n }, blob,
        "application/octet-stream", (b) => { sent.set(n, b); report(); }, signal);
      done.set(n, answer.etag);
      sent.set(n, blob.size);
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  const parts = [...done.entries()].sort((a, b) => a[0] - b[0]).map(([part, etag]) => ({ part, etag }));
  const out = await call("POST", "complete", { bucket, key, upload_id: uploadId }, { parts });
  localStorage.removeItem(memo);
  return out;
}
