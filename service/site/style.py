"""The demo site's one stylesheet (inline, allowed by its hash in the page's CSP)."""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1b1f2a;--muted:#596070;--border:#e5e7ee;
--surface:#f6f7fb;--accent:#4f46e5;--accent-soft:#eef0ff;--code:#f1f3f8;--shadow:0 1px 2px
rgba(16,24,40,.05),0 8px 24px -12px rgba(16,24,40,.12)}
@media (prefers-color-scheme:dark){:root{--bg:#0e1016;--fg:#e6e8ef;--muted:#a3a9b8;
--border:#252a36;--surface:#151922;--accent:#a5b4fc;--accent-soft:#1c2042;--code:#1a1e29;
--shadow:0 1px 2px rgba(0,0,0,.3),0 8px 24px -12px rgba(0,0,0,.5)}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.65 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif;-webkit-font-smoothing:antialiased}
a{color:var(--accent);text-underline-offset:2px}
a:focus-visible{outline:2px solid var(--accent);outline-offset:2px;border-radius:4px}
.wrap{max-width:1120px;margin:0 auto;padding:0 24px}
.skip{position:absolute;left:-9999px}
.skip:focus{left:16px;top:12px;z-index:10;background:var(--bg);padding:8px 12px;border-radius:8px}
.top{position:sticky;top:0;z-index:5;border-bottom:1px solid var(--border);
background:color-mix(in srgb,var(--bg) 88%,transparent);backdrop-filter:saturate(1.6) blur(10px)}
.top .wrap{display:flex;align-items:center;gap:24px;height:60px}
.brand{display:flex;align-items:center;gap:10px;color:var(--fg);text-decoration:none;
font-weight:650;font-size:17px;letter-spacing:-.01em}
.logo{width:28px;height:28px;border-radius:8px;background:linear-gradient(135deg,#6366f1,#4338ca);
display:grid;place-items:center;color:#fff;font-size:15px;font-weight:700}
.top nav{margin-left:auto;display:flex;gap:20px;font-size:14.5px}
.top nav a{color:var(--muted);text-decoration:none}
.top nav a:hover{color:var(--fg)}
.hero{padding:64px 0 40px;border-bottom:1px solid var(--border);
background:radial-gradient(1200px 300px at 50% -40px,var(--accent-soft),transparent)}
.hero h1{font-size:42px;line-height:1.15;letter-spacing:-.025em;margin:0 0 14px}
.hero p{font-size:18px;color:var(--muted);max-width:640px;margin:0}
.asks{display:flex;flex-wrap:wrap;gap:10px;margin-top:26px}
.ask{font:inherit;font-size:14px;color:var(--fg);background:var(--bg);
border:1px solid var(--border);
border-radius:999px;padding:7px 14px;cursor:pointer;box-shadow:var(--shadow)}
.ask:hover{border-color:var(--accent)}
.ask:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
main{padding:40px 0 72px}
h2.section{font-size:13px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);
margin:0 0 16px;font-weight:650}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:16px}
.card{display:flex;flex-direction:column;gap:8px;padding:20px 22px;border:1px solid var(--border);
border-radius:14px;background:var(--bg);color:var(--fg);text-decoration:none;
transition:border-color .15s,box-shadow .15s,transform .15s}
.card:hover{border-color:color-mix(in srgb,var(--accent) 45%,var(--border));
box-shadow:var(--shadow);
transform:translateY(-1px)}
.card h3{margin:0;font-size:17px;line-height:1.35;letter-spacing:-.01em}
.card p{margin:0;color:var(--muted);font-size:14.5px;line-height:1.55}
.tags{display:flex;flex-wrap:wrap;gap:6px;margin-top:auto;padding-top:6px}
.tag{font-size:12px;color:var(--muted);background:var(--surface);border:1px solid var(--border);
border-radius:999px;padding:1px 9px}
.embed{margin-top:48px;padding:24px;border:1px solid var(--border);border-radius:14px;
background:var(--surface)}
.embed h2{margin:0 0 6px;font-size:18px}
.embed p{margin:0 0 14px;color:var(--muted);font-size:15px}
pre{background:var(--code);border:1px solid var(--border);border-radius:10px;padding:14px 16px;
overflow:auto;font-size:13.5px;line-height:1.55}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;
font-size:.9em}
:not(pre)>code{background:var(--code);border-radius:5px;padding:.1em .35em}
.layout{display:grid;grid-template-columns:minmax(0,1fr) 230px;gap:56px;align-items:start}
.crumbs{font-size:14px;color:var(--muted);margin-bottom:18px}
.crumbs a{color:var(--muted);text-decoration:none}
.crumbs a:hover{color:var(--fg)}
article h1{font-size:36px;line-height:1.2;letter-spacing:-.022em;margin:0 0 12px}
.lead{font-size:18.5px;color:var(--muted);margin:0 0 14px}
.meta{display:flex;flex-wrap:wrap;align-items:center;gap:8px 14px;color:var(--muted);font-size:14px;
padding-bottom:22px;border-bottom:1px solid var(--border);margin-bottom:8px}
.prose{max-width:720px}
.prose h2{font-size:24px;letter-spacing:-.015em;margin:40px 0 10px;line-height:1.3}
.prose h3{font-size:19px;margin:30px 0 8px;line-height:1.35}
.prose h4{font-size:16px;margin:24px 0 6px}
.prose h2,.prose h3,.prose h4{scroll-margin-top:84px;position:relative;border-radius:8px}
.prose :target{background:var(--accent-soft);box-shadow:0 0 0 8px var(--accent-soft);
animation:flash 1.6s ease-out}
@keyframes flash{from{box-shadow:0 0 0 8px color-mix(in srgb,var(--accent) 35%,transparent)}}
.anchor{margin-left:8px;color:var(--muted);text-decoration:none;opacity:0;font-weight:400}
.prose h2:hover .anchor,.prose h3:hover .anchor{opacity:.7}
.prose p,.prose li{font-size:16.5px}
.prose ul,.prose ol{padding-left:24px}
.prose li{margin:4px 0}
.prose blockquote{margin:18px 0;padding:4px 18px;border-left:3px solid var(--accent);
color:var(--muted)}
.prose table{border-collapse:collapse;display:block;overflow-x:auto;font-size:15px;margin:18px 0}
.prose th,.prose td{border:1px solid var(--border);padding:8px 12px;text-align:left;
vertical-align:top}
.prose th{background:var(--surface)}
.prose img{max-width:100%}
.raw-html{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:14px;
background:var(--code);padding:8px 12px;border-radius:8px;white-space:pre-wrap}
.toc{position:sticky;top:84px;font-size:14px;border-left:1px solid var(--border);padding-left:18px}
.toc h2{font-size:12px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);
margin:0 0 10px}
.toc ol{list-style:none;margin:0;padding:0}
.toc li{margin:7px 0;line-height:1.4}
.toc li.l3{padding-left:14px;font-size:13.5px}
.toc a{color:var(--muted);text-decoration:none}
.toc a:hover{color:var(--fg)}
.related{margin-top:56px;padding-top:28px;border-top:1px solid var(--border)}
footer{border-top:1px solid var(--border);color:var(--muted);font-size:14px;padding:28px 0 96px}
.empty{padding:40px;text-align:center;color:var(--muted);border:1px dashed var(--border);
border-radius:14px}
.layout>*,.grid>*{min-width:0}
.prose,.lead,article h1,.card{overflow-wrap:anywhere}
.prose pre,.embed pre{max-width:100%}
.prose img,.prose video{max-width:100%;height:auto}
.error-page{padding:24px 0 48px}
.error-page .status{font-size:14px;letter-spacing:.08em;color:var(--muted);margin:0 0 6px}
.error-page h1{font-size:34px;margin:0 0 12px}
@media (max-width:900px){.layout{grid-template-columns:minmax(0,1fr)}.toc{display:none}}
@media (max-width:600px){.wrap{padding:0 16px}.hero{padding:40px 0 28px}
.hero h1{font-size:32px}article h1{font-size:29px}
.grid{grid-template-columns:minmax(0,1fr)}
.top nav{display:none}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}
""".strip()

CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
