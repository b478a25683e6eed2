// Contrast ratios of the console stylesheet's colour pairs, read from its custom properties.
const css = getComputedStyle(document.documentElement);
const v = (n) => css.getPropertyValue(n).trim();
const rgb = (hex) => { let x = hex.replace('#', ''); if (x.length === 3) x = [...x].map((c) => c + c).join('');
  return x.match(/../g).map((p) => parseInt(p, 16)); };
const lum = (c) => { const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
  const [r, g, b] = rgb(c); return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const pairs = {"text on page": ["--fg", "--bg"], "text on card": ["--fg", "--card"],
  "muted on card": ["--muted", "--card"], "muted on page": ["--muted", "--bg"], "link on card": ["--accent", "--card"],
  "link on page": ["--accent", "--bg"], "button text": ["#ffffff", "--accent"], "danger button": ["#ffffff", "--danger"],
  "ok notice": ["#ffffff", "--ok"], "error text on card": ["--danger", "--card"], "focus ring on page": ["--focus", "--bg"],
  "focus ring on card": ["--focus", "--card"], "focus ring on the top bar": ["--focus-on-dark", "--top"],
  "top bar text": ["#ffffff", "--top"]};
const out = {};
for (const [k, [a, b]] of Object.entries(pairs)) out[k] = ratio(a.startsWith('#') ? a : v(a), b.startsWith('#') ? b : v(b));
return out;
