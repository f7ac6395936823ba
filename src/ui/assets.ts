// The UI's one stylesheet and one script, served from memory with a content hash in their URLs (so a
// browser keeps them for a year and a new build is fetched at once). The script only enhances: every
// page works without it except the live event list and the copy buttons.
import { createHash } from 'node:crypto';

const CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--panel:#f6f8fa;
--accent:#0550ae;--ok:#116329;--bad:#a40e26;--warn:#7d4e00;--focus:#0969da;--code:#eff1f3}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;
--panel:#161b22;--accent:#58a6ff;--ok:#3fb950;--bad:#ff7b72;--warn:#d29922;--focus:#58a6ff;--code:#1f242c}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:var(--bg);padding:4px 8px;z-index:2}
header{border-bottom:1px solid var(--line);background:var(--panel)}
header .bar{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center;max-width:80rem;margin:0 auto;padding:.5rem 1rem}
header .brand{font-weight:700;text-decoration:none;color:var(--fg);margin-right:.5rem}
header nav ul{display:flex;flex-wrap:wrap;gap:.25rem .75rem;list-style:none;margin:0;padding:0}
header nav a[aria-current=page]{font-weight:700;text-decoration-thickness:2px}
header .who{margin-left:auto;display:flex;gap:.5rem;align-items:center;color:var(--muted)}
main{max-width:80rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
.muted{color:var(--muted)}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;background:var(--panel)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;overflow-wrap:anywhere}
code{background:var(--code);padding:.05rem .3rem;border-radius:4px}
pre{background:var(--code);padding:.75rem;border-radius:6px;overflow-x:auto;margin:0}
.badge{display:inline-block;border:1px solid var(--line);border-radius:999px;padding:0 .5rem;font-size:.8rem;white-space:nowrap}
.badge.ok{color:var(--ok);border-color:currentColor}.badge.bad{color:var(--bad);border-color:currentColor}
.badge.warn{color:var(--warn);border-color:currentColor}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
@media (max-width:40rem){dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.5rem}}
form.inline{display:inline-flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:0}
label{display:inline-flex;flex-direction:column;gap:.15rem;font-size:.9rem}
input,select,button{font:inherit;padding:.35rem .6rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
button{cursor:pointer;background:var(--panel)}button.primary{background:var(--accent);color:var(--bg);border-color:var(--accent)}
.panel{border:1px solid var(--line);border-radius:8px;padding:1rem;margin:1rem 0;background:var(--panel)}
.panel>:first-child{margin-top:0}.panel>:last-child{margin-bottom:0}
div.actions{margin:1rem 0;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
form.login{max-width:28rem;display:grid;gap:.75rem}
caption{text-align:left;padding:.5rem 0;color:var(--muted)}
table.events{table-layout:fixed;min-width:58rem}
table.events th:nth-child(1){width:6rem}table.events th:nth-child(2){width:13rem}
table.events th:nth-child(3){width:12rem}table.events th:nth-child(4){width:8rem}
table.events th:nth-child(5){width:15rem}
.notice{border-left:4px solid var(--accent);padding:.5rem 1rem;background:var(--panel);margin:1rem 0}
.notice.bad{border-color:var(--bad)}.notice.ok{border-color:var(--ok)}
.pager{display:flex;gap:1rem;margin:1rem 0}
ul.tree{list-style:none;padding-left:1.25rem;margin:.25rem 0;border-left:1px solid var(--line)}
ul.tree>li{margin:.35rem 0}
.cmd{display:flex;gap:.5rem;align-items:center;margin:.35rem 0}
.cmd code{flex:1;min-width:0;padding:.35rem .5rem;display:block}
.log{max-height:70vh;overflow:auto;border:1px solid var(--line);border-radius:6px}
.log thead th{position:sticky;top:0}
#live-events tr.new{animation:fade 2s ease-out}
@keyframes fade{from{background:var(--code)}to{background:transparent}}
@media (prefers-reduced-motion:reduce){#live-events tr.new{animation:none}}
.status{min-height:1.5em}
`;

// Live events (SSE through /ui/events/stream, which resumes with Last-Event-ID and sends every event
// as a plain message) and copy buttons. The log reads oldest to newest, as a terminal's tail does: a new
// row goes at the end of a fixed-height scroll box whose columns are fixed, so nothing on the page moves
// (no layout shift); the box follows the newest row while it is scrolled to the bottom.
const JS = `
(function(){
  document.addEventListener('click', function(e){
    var b = e.target.closest && e.target.closest('button[data-copy]');
    if(!b) return;
    var text = document.getElementById(b.getAttribute('data-copy')).textContent;
    navigator.clipboard.writeText(text).then(function(){ b.textContent = 'Copied'; setTimeout(function(){ b.textContent = 'Copy'; }, 1500); });
  });
  var body = document.getElementById('live-events');
  if(!body || !body.getAttribute('data-stream') || !window.EventSource) return;
  var box = body.closest('.log');
  box.scrollTop = box.scrollHeight;
  var status = document.getElementById('live-status');
  var src = new EventSource(body.getAttribute('data-stream'));
  src.onopen = function(){ status.textContent = 'Live: new events appear at the end of the list.'; };
  src.onerror = function(){ status.textContent = 'Reconnecting…'; };
  src.onmessage = function(m){
    var e = JSON.parse(m.data);
    if(document.getElementById('event-' + e.seq)) return;
    var pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 8;
    var tr = document.createElement('tr');
    tr.id = 'event-' + e.seq; tr.className = 'new';
    var actor = e.payload && e.payload.actor ? (e.payload.actor.name || e.payload.actor.kind) : '';
    [String(e.seq), e.type, e.repository || '—', actor, e.at.slice(0,10) + ' ' + e.at.slice(11,19) + ' UTC', e.hash.slice(0,16) + '…']
      .forEach(function(v, i){ var td = document.createElement('td'); if(i===0) td.className='num'; if(i===5){ var c=document.createElement('code'); c.textContent=v; td.appendChild(c);} else td.textContent = v; tr.appendChild(td); });
    body.appendChild(tr);
    if(pinned) box.scrollTop = box.scrollHeight;
    var head = document.getElementById('chain-head');
    if(head){ head.querySelector('[data-seq]').textContent = e.seq; head.querySelector('[data-hash]').textContent = e.hash; }
  };
})();
`;

// The tab's icon (a browser asks for /favicon.ico otherwise, and gets the registry's 404).
const ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0550ae"/>' +
  '<path d="M4 5h8v2H4zm0 4h8v2H4z" fill="#fff"/></svg>';

function asset(body: string, type: string) {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { body, type, hash };
}

export const ASSETS = {
  css: asset(CSS, 'text/css; charset=utf-8'),
  js: asset(JS, 'text/javascript; charset=utf-8'),
  icon: asset(ICON, 'image/svg+xml'),
};

export const assetUrl = (name: keyof typeof ASSETS) => `/ui/assets/${name}.${ASSETS[name].hash}`;
