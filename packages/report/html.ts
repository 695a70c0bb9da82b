/**
 * HTML pieces shared by the run report and the history page: escaping (every title, message and
 * log line comes from tests and services: hostile until escaped), the page shell with its inline
 * CSS and script (the page must open from disk and from a CI artifact viewer: nothing external).
 */

/** Escapes text for HTML content and double- or single-quoted attribute values. */
export function esc(s: unknown): string {
  return String(s ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** JSON safe inside <script type="application/json">: no "</script>", no "<!--", no line separators. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** A relative link to a run-folder file (each path segment URL-encoded). */
export function href(rel: string): string {
  return rel.split("/").map(encodeURIComponent).join("/");
}

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
<aside id="panel" hidden><header><strong id="panel-title"></strong><button type="button" id="panel-close" aria-label="close">×</button></header><pre id="panel-body"></pre></aside>
<script>${JS}</script>
</body>
</html>
`;
}

const CSS = `
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--card:#fff;--ok:#15803d;--okbg:#dcfce7;--bad:#b91c1c;--badbg:#fee2e2;--skip:#92400e;--skipbg:#fef3c7;--accent:#4f46e5}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1400px;margin:0 auto;padding:20px 24px 60px}
a{color:var(--accent)}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
.hero{display:flex;gap:18px;align-items:center;flex-wrap:wrap;background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px}
.hero .verdict{font-size:18px;font-weight:700;padding:8px 16px;border-radius:8px}
.verdict.ok{background:var(--okbg);color:var(--ok)}.verdict.bad{background:var(--badbg);color:var(--bad)}
.facts{display:grid;grid-template-columns:auto auto;gap:2px 14px;margin:0}
.facts dt{color:var(--muted)}.facts dd{margin:0}
.counts{display:flex;gap:8px;margin-left:auto}
.count{min-width:78px;text-align:center;border-radius:8px;padding:6px 10px;background:#f1f5f9}
.count b{display:block;font-size:20px}
.count.passed b{color:var(--ok)}.count.failed b{color:var(--bad)}.count.pending b{color:var(--skip)}
.banner{margin:14px 0;padding:12px 16px;border-radius:8px;background:var(--badbg);color:var(--bad);border:1px solid #fecaca}
.banner.info{background:#eff6ff;color:#1e3a8a;border-color:#bfdbfe}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f1f5f9;font-weight:600;color:#374151}
td.num,th.num{text-align:right;white-space:nowrap}
.state{display:inline-block;font-weight:700;font-size:12px;border-radius:999px;padding:1px 9px;white-space:nowrap}
.state.passed{background:var(--okbg);color:var(--ok)}.state.failed{background:var(--badbg);color:var(--bad)}.state.pending,.state.none{background:var(--skipbg);color:var(--skip)}
.msg1{color:var(--bad);font-family:ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12px}
details.test{background:var(--card);border:1px solid var(--line);border-radius:10px;margin:10px 0}
details.test[data-state=failed]{border-left:5px solid var(--bad)}
details.test[data-state=passed]{border-left:5px solid var(--ok)}
details.test[data-state=pending]{border-left:5px solid #f59e0b}
details.test>summary{cursor:pointer;padding:10px 14px;display:flex;gap:10px;align-items:baseline;list-style:none}
details.test>summary::-webkit-details-marker{display:none}
details.test>summary::before{content:"▸";color:var(--muted)}
details.test[open]>summary::before{content:"▾"}
details.test>summary .title{font-weight:600;flex:1}
details.test>summary .dur{color:var(--muted);white-space:nowrap}
.body{padding:0 16px 14px}
pre.error{background:#fff7f7;border:1px solid #fecaca;color:#7f1d1d;padding:10px 12px;border-radius:6px;overflow:auto;max-height:320px;white-space:pre-wrap}
.diagram{overflow-x:auto;border:1px solid var(--line);border-radius:8px;background:#fff;margin:10px 0}
.diagram svg{display:block}
.gaps{color:var(--muted);font-style:italic;margin:6px 0}
.step{cursor:pointer}
.step:hover .hit,.step:focus .hit,.step.sel .hit{fill:#eef2ff}
.step:focus{outline:none}
details.logs{margin:8px 0}
details.logs>summary{cursor:pointer;color:#374151;font-weight:600}
pre.log{background:#0f172a;color:#e2e8f0;padding:10px 12px;border-radius:6px;overflow:auto;max-height:360px;margin:6px 0}
pre.log .t{color:#94a3b8}pre.log .warn{color:#fbbf24}pre.log .error{color:#f87171}
ul.files{columns:2 360px;margin:6px 0;padding-left:18px}
ul.files li{break-inside:avoid}
.muted{color:var(--muted)}
.flaky{display:inline-block;background:#fef3c7;color:#92400e;border-radius:999px;padding:0 8px;font-size:12px;font-weight:700}
.dot{display:inline-block;width:12px;height:12px;border-radius:3px;margin:0 1px;vertical-align:middle}
.dot.passed{background:#22c55e}.dot.failed{background:#ef4444}.dot.pending{background:#f59e0b}.dot.none{background:#e5e7eb}
#panel{position:fixed;top:0;right:0;bottom:0;width:min(560px,92vw);background:#fff;border-left:1px solid var(--line);box-shadow:-8px 0 24px rgba(15,23,42,.12);display:flex;flex-direction:column;z-index:10}
#panel[hidden]{display:none}
#panel header{display:flex;align-items:center;gap:8px;padding:10px 14px;border-bottom:1px solid var(--line);background:#f8fafc}
#panel header strong{flex:1;overflow-wrap:anywhere}
#panel button{border:0;background:none;font-size:22px;cursor:pointer;color:var(--muted)}
#panel pre{margin:0;padding:12px 14px;overflow:auto;flex:1;white-space:pre-wrap;overflow-wrap:anywhere}
footer{margin-top:30px;color:var(--muted);font-size:12px}
`;

// Clicking a step of a diagram shows its message in the side panel (textContent: never parsed as HTML).
const JS = `(function(){
var panel=document.getElementById('panel'),pt=document.getElementById('panel-title'),pb=document.getElementById('panel-body'),sel=null;
var cache={};
function data(id){if(!cache[id]){var s=document.getElementById(id);cache[id]=s?JSON.parse(s.textContent):[];}return cache[id];}
function show(g){var d=data(g.getAttribute('data-src'))[+g.getAttribute('data-msg')];if(!d)return;
if(sel)sel.classList.remove('sel');sel=g;g.classList.add('sel');
pt.textContent=d.title;pb.textContent=d.body;panel.hidden=false;}
document.addEventListener('click',function(e){var g=e.target.closest&&e.target.closest('.step');if(g)show(g);});
document.addEventListener('keydown',function(e){if(e.key==='Escape'){close();return;}
if((e.key==='Enter'||e.key===' ')&&e.target.classList&&e.target.classList.contains('step')){e.preventDefault();show(e.target);}});
function close(){panel.hidden=true;if(sel){sel.classList.remove('sel');sel.blur&&sel.blur();sel=null;}}
document.getElementById('panel-close').addEventListener('click',close);
})();`;
