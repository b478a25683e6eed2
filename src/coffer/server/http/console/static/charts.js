// Live charts drawn in <canvas>: requests/s, throughput and errors/s from api/metrics snapshots.
import { call } from "./api.js";

const POINTS = 60;

export class LineChart {
  constructor(canvas, series, unit) {
    this.canvas = canvas; this.series = series; this.unit = unit;
    this.data = series.map(() => []);
  }
  push(values) {
    values.forEach((v, i) => { this.data[i].push(v); if (this.data[i].length > POINTS) this.data[i].shift(); });
    this.draw();
  }
  draw() {
    const c = this.canvas, ctx = c.getContext("2d");
    const w = c.clientWidth || 300, h = c.clientHeight || 140, dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, w, h);
    const max = Math.max(1e-9, ...this.data.flat()) * 1.15;
    ctx.strokeStyle = "#d0d7de"; ctx.lineWidth = 1; ctx.font = "11px sans-serif"; ctx.fillStyle = "#333";
    for (let g = 0; g <= 4; g++) {
      const y = 8 + (h - 24) * g / 4;
      ctx.beginPath(); ctx.moveTo(40, y); ctx.lineTo(w - 4, y); ctx.stroke();
      ctx.fillText(fmt(max * (1 - g / 4), this.unit), 2, y + 4);
    }
    this.series.forEach((s, i) => {
      const pts = this.data[i];
      ctx.strokeStyle = s.color; ctx.lineWidth = 2; ctx.beginPath();
      pts.forEach((v, j) => {
        const x = 40 + (w - 44) * (j + POINTS - pts.length) / (POINTS - 1);
        const y = 8 + (h - 24) * (1 - v / max);
        if (j === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
      ctx.fillStyle = s.color; ctx.fillText(s.label, 48 + i * 90, h - 4);
    });
    c.dataset.samples = String(this.data[0].length);
    c.dataset.last = this.data.map((d) => d[d.length - 1] ?? 0).join(",");
  }
}

function fmt(v, unit) {
  if (unit === "B/s") {
    if (v >= 1 << 20) return (v / (1 << 20)).toFixed(1) + "M";
    if (v >= 1 << 10) return (v / (1 << 10)).toFixed(0) + "K";
  }
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}

// Poll the metrics every second while `alive()`; each worker's counters are diffed on their own.
export function startCharts(canvases, alive) {
  const req = new LineChart(canvases.requests, [{ label: "requests/s", color: "#1f5fa8" }], "/s");
  const thr = new LineChart(canvases.throughput, [{ label: "in B/s", color: "#1a7f37" },
    { label: "out B/s", color: "#8250df" }], "B/s");
  const err = new LineChart(canvases.errors, [{ label: "4xx/s", color: "#9a6700" },
    { label: "5xx/s", color: "#cf222e" }], "/s");
  const last = new Map();
  const tick = async () => {
    if (!alive()) return;
    try {
      const m = await call("GET", "metrics");
      const prev = last.get(m.pid);
      last.set(m.pid, m);
      if (prev) {
        const dt = Math.max(0.001, m.time - prev.time);
        const r = (k) => Math.max(0, (m[k] - prev[k]) / dt);
        req.push([r("requests")]);
        thr.push([r("bytes_in"), r("bytes_out")]);
        err.push([r("errors_4xx"), r("errors_5xx")]);
      }
    } catch { /* the next tick tries again */ }
    setTimeout(tick, 1000);
  };
  tick();
}
