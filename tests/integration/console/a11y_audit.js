// An accessibility audit run in the page (returns a list of problems, empty when none):
// every form control and button has an accessible name, every link has text, images have alt text,
// and every visible text meets WCAG AA contrast (4.5:1; 3:1 for large text) against its background.
return (function audit() {
  const problems = [];
  const visible = (el) => {
    const s = getComputedStyle(el);
    if (s.display === "none" || s.visibility === "hidden") return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 || el.type === "file";
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
  const named = (el) => {
    if ((el.getAttribute("aria-label") || "").trim()) return true;
    const by = el.getAttribute("aria-labelledby");
    if (by && by.split(/\s+/).some((id) => (document.getElementById(id)?.textContent || "").trim())) return true;
    if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return true;
    if ((el.getAttribute("title") || "").trim()) return true;
    return false;
  };
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || el.closest("[hidden]")) continue;
    if (!named(el)) problems.push("control without a label: " + describe(el));
  }
  for (const el of document.querySelectorAll("button, [role=button]")) {
    if (el.closest("[hidden]") || !visible(el)) continue;
    if (!el.textContent.trim() && !named(el)) problems.push("button without a name: " + describe(el));
  }
  for (const el of document.querySelectorAll("a[href]")) {
    if (el.closest("[hidden]") || !visible(el)) continue;
    if (!el.textContent.trim() && !named(el)) problems.push("link without text: " + describe(el));
  }
  for (const el of document.querySelectorAll("img")) if (!el.hasAttribute("alt")) problems.push("image without alt: " + describe(el));
  const ids = {};
  for (const el of document.querySelectorAll("[id]")) ids[el.id] = (ids[el.id] || 0) + 1;
  for (const [id, n] of Object.entries(ids)) if (n > 1) problems.push(`id used ${n} times: ${id}`);
  // contrast
  const rgba = (c) => { const m = c.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const blend = (top, bottom) => ({ r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a), b: top.b * top.a + bottom.b * (1 - top.a), a: 1 });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const c of layers.reverse()) bg = blend(c, bg);
    return bg;
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || seen.has(el) || !visible(el) || el.closest("[hidden], dialog:not([open]), option")) continue;
    seen.add(el);
    const s = getComputedStyle(el);
    const fg = blend(rgba(s.color), background(el));
    const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const got = ratio(fg, background(el));
    if (got < need) problems.push(`contrast ${got.toFixed(2)} < ${need} for "${n.textContent.trim().slice(0, 30)}" in ${describe(el)}`);
  }
  return problems;
})();
