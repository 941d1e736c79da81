"""The documentation site (`python tools/build_docs.py` -> `_docs/`), opened page by page in headless Chromium from file://.

Concept: what a reader sees is what the notebooks hold. Every page loads with nothing failing and nothing fetched from
another host, every saved figure is there and decodes, every public name of the library shows its signature and
docstring on its page, and the search box finds a name's page, all from `file://` with no server.
Screenshots of the overview, the tutorial and an API page are left in `build/docs-screenshots/` (not committed).

Chromium is Debian's `chromium` package (`.ci/run` installs it). Without it the browser tests are skipped on a
developer machine and fail in CI (`CI` set)."""
import base64, importlib, json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request
from contextlib import contextmanager
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE, SHOTS = ROOT/'_docs', ROOT/'build'/'docs-screenshots'
sys.path.insert(0, str(ROOT/'tools'))
import build_docs as bd

# ------------------------------------------------------------------------------------------ build-side concepts
def test_links_nbdev_writes_become_page_relative():
    site = bd.Site([Path('index.ipynb'), Path('00_dropout.ipynb'), Path('tutorials/01_tour.ipynb')], ['/'])
    tut, api = Path('tutorials/01_tour.ipynb'), Path('00_dropout.ipynb')
    assert site.rel_link('/dropout.html#rnndropout', tut) == '../dropout.html#rnndropout'   # nbdev doc link
    assert site.rel_link('../00_dropout.ipynb', tut) == '../dropout.html'                   # link to a notebook
    assert site.rel_link('tutorials/01_tour.ipynb#step-1', Path('index.ipynb')) == 'tutorials/tour.html#step-1'
    assert site.rel_link('https://docs.fast.ai/text.models.awdlstm.html', api) == 'https://docs.fast.ai/text.models.awdlstm.html'

def test_links_to_names_outside_all_become_plain_code():
    "An `#| exporti` helper has no API entry (nbdev documents `#| export` cells): nbdev's link to it would dangle."
    internal = bd.internal_anchors()
    assert 'core.html#atomic_write' in internal and 'recorder.html#maskrecorder' not in internal
    assert not any(a.startswith('recorder.html#maskrecord.') for a in internal)     # methods of a public class
    site = bd.Site([Path('00_dropout.ipynb')], ['/'], internal={'dropout.html#helper'})
    md = site.markdown('[`helper`](/dropout.html#helper) and [`RNNDropout`](/dropout.html#rnndropout)', Path('00_dropout.ipynb'), '')
    assert md == '`helper` and [`RNNDropout`](dropout.html#rnndropout)'

def test_heading_ids_follow_pandoc_like_nbdev_links():
    assert bd.pandoc_id('MaskRecord.show') == 'maskrecord.show'           # nbdev links methods as `page.html#cls.meth`
    assert bd.pandoc_id('Locked (variational) dropout: RNNDropout') == 'locked-variational-dropout-rnndropout'
    assert bd.pandoc_id('1. Train') == 'train'                            # Pandoc drops everything before the first letter

def test_quarto_parts_become_plain_cells():
    nb = {'cells': [
        {'cell_type': 'raw', 'metadata': {}, 'source': '---\ndescription: Uses `x`\noutput-file: dropout.html\ntitle: Dropout\n---\n'},
        {'cell_type': 'markdown', 'metadata': {}, 'source': 'See [a](/dropout.html#a){target="_blank"}'},
        {'cell_type': 'code', 'metadata': {}, 'execution_count': 1, 'source': '#| echo: false\n#| output: asis\nshow_doc(f)',
         'outputs': [{'output_type': 'execute_result', 'metadata': {}, 'execution_count': 1,
                      'data': {'text/markdown': '### f\n\n```python\ndef f(x)\n```', 'text/plain': 'f'}}]},
        {'cell_type': 'code', 'metadata': {}, 'execution_count': 2, 'source': '#| include: false\nsecret()', 'outputs': []}]}
    out, title = bd.adapt(nb, Path('00_dropout.ipynb'), bd.Site([Path('00_dropout.ipynb')], ['/']))
    srcs = [c['source'] for c in out['cells']]
    assert title == 'Dropout' and srcs[0].startswith('# Dropout') and '<code>x</code>' in srcs[0]
    assert srcs[1] == 'See [a](dropout.html#a)'                           # link attribute gone, link relative
    assert [c['cell_type'] for c in out['cells']] == ['markdown'] * 3     # show_doc output is page content
    assert 'def f(x)' in srcs[2] and not any('secret' in s for s in srcs)

def test_sidebar_lists_tutorials_first_and_is_up_to_date():
    groups = bd.reading_order([Path('index.ipynb'), Path('01_b.ipynb'), Path('00_a.ipynb'), Path('tutorials/x.ipynb')])
    assert [g for g, _ in groups] == ['Tutorials', '', 'API']
    assert groups[0][1] == [Path('tutorials/x.ipynb')] and groups[2][1] == [Path('00_a.ipynb'), Path('01_b.ipynb')]
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'build_docs.py'), '--check-sidebar'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

# ------------------------------------------------------------------------------------------------- the built site
def _inputs():
    "Files the site is built from."
    fs = [p for p in (ROOT/'nbs').rglob('*') if p.is_file() and '.ipynb_checkpoints' not in p.parts
          and (p.suffix in {'.ipynb', '.yml', '.css'} or p.suffix.lower() in bd.MEDIA)]
    return fs + [ROOT/'tools'/'build_docs.py', ROOT/'pyproject.toml'] + [p for p in (ROOT/'docs_assets').rglob('*') if p.is_file()]

@pytest.fixture(scope='module')
def site():
    "The built site, (re)built when missing or older than its sources."
    index = SITE/'index.html'
    if not index.exists() or index.stat().st_mtime < max(p.stat().st_mtime for p in _inputs()) \
            or not (ROOT/'build'/'docs'/'src').exists():
        r = subprocess.run([sys.executable, str(ROOT/'tools'/'build_docs.py')], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return SITE

def pages():
    "(notebook, page) in reading order, from the notebooks themselves."
    nbs = bd.notebooks()
    return [(p, bd.page_path(p)) for _, ps in bd.reading_order(nbs) for p in ps]

def test_site_links_and_resources_stay_inside(site):
    assert bd.check_site(site) == []                  # relative links and anchors resolve, nothing from another host
    for _, page in pages(): assert (site/page).exists(), page

def public_names() -> dict:
    "Page -> public functions and classes of the library documented there (from nbdev's index of the package)."
    from awd_fastai._modidx import d
    res = {}
    for mod, syms in d['syms'].items():
        public = set(getattr(importlib.import_module(mod), '__all__', []))
        for sym, (url, _) in syms.items():
            name = sym[len(mod)+1:]
            if '.' in name or name not in public: continue
            page, _, anchor = url.partition('#')
            res.setdefault(page, []).append((name, anchor))
    return res

def _directives(src:str) -> dict:
    "nbdev/Quarto `#|` options of a code cell: `#| hide` -> {'hide': ''}, `#| output: false` -> {'output': 'false'}."
    opts = {}
    for l in src.splitlines():
        if not l.startswith('#|'): break
        k, _, v = l[2:].strip().partition(':')
        opts[k.strip().split()[0] if k.strip() else ''] = v.strip().lower()
    return opts

def saved_figures(nb:Path) -> int:
    "Images the page of notebook `nb` must show: saved image outputs of shown cells, and markdown images."
    n = 0
    for c in json.loads((ROOT/'nbs'/nb).read_text())['cells']:
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        if c['cell_type'] == 'markdown': n += len(re.findall(r'!\[[^\]]*\]\([^)]+\)', src)); continue
        d = _directives(src)
        if 'hide' in d or d.get('include') == 'false' or d.get('output') == 'false': continue
        n += sum(any(k in o.get('data', {}) for k in ('image/png', 'image/jpeg', 'image/gif')) for o in c.get('outputs', []))
    return n

def has_maths(page:str) -> bool:
    "Does the notebook behind `page` have $...$ maths in its markdown?"
    nb = json.loads((ROOT/'build'/'docs'/'src'/page).with_suffix('.ipynb').read_text())
    md = ' '.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    return bool(re.search(r'\$[^$\s`][^$`]*\$', re.sub(r'`[^`]*`', '', md)))

# -------------------------------------------------------------------------------------------- Chromium over CDP
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--disable-default-apps', '--hide-scrollbars', '--mute-audio',
         '--window-size=1400,1000', '--remote-debugging-port=0']

def chromium_path():
    for name in (os.environ.get('CHROMIUM'), 'chromium', 'chromium-browser', 'google-chrome'):
        if name and (p := shutil.which(name)): return p

def required_chromium() -> str:
    "Chromium's path; without it the browser checks skip, or fail under CI (where `.ci/run` installs it)."
    exe = chromium_path()
    if not exe:
        if os.environ.get('CI'): pytest.fail('chromium is not installed (apt-get install -y chromium)')
        pytest.skip('chromium is not installed: `apt-get install -y chromium` to run the browser checks')
    return exe

class Page:
    "One Chromium tab driven over the DevTools protocol: navigate, evaluate, and every network event seen."
    def __init__(self, ws_url):
        import websocket
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True, enable_multithread=False)
        self.n, self.events = 0, []
        for m in ('Page.enable', 'Network.enable', 'Runtime.enable'): self.send(m)
        self.send('Emulation.setDeviceMetricsOverride', width=1400, height=1000, deviceScaleFactor=1, mobile=False)

    def _recv(self):
        msg = json.loads(self.ws.recv())
        if 'method' in msg: self.events.append(msg)
        return msg

    def send(self, method, **params):
        self.n += 1; i = self.n
        self.ws.send(json.dumps({'id': i, 'method': method, 'params': params}))
        while True:
            msg = self._recv()
            if msg.get('id') == i:
                if 'error' in msg: raise RuntimeError(f'{method}: {msg["error"]}')
                return msg.get('result', {})

    def wait_for(self, method, timeout=30):
        "Wait for event `method` (among those since the last `open`)."
        t0 = time.time()
        while not any(e['method'] == method for e in self.events):
            if time.time() - t0 > timeout: raise TimeoutError(method)
            self._recv()

    def js(self, expr, timeout=20):
        r = self.send('Runtime.evaluate', expression=expr, returnByValue=True, awaitPromise=True, timeout=timeout*1000)
        if 'exceptionDetails' in r: raise RuntimeError(f'{expr[:80]}: {r["exceptionDetails"]}')
        return r['result'].get('value')

    def wait_js(self, expr, timeout=20):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if v := self.js(expr): return v
            time.sleep(0.1)
        raise TimeoutError(expr)

    def open(self, url):
        "Load `url`; return the requests that failed or left file:// (and JS exceptions) while it loaded."
        self.events = []
        self.send('Page.navigate', url=url)
        self.wait_for('Page.loadEventFired')
        self.js('Promise.all([...document.images].map(i => i.decode().catch(() => 0)))')   # figures decoded
        time.sleep(0.2); self.js('1')                    # collect late events (search worker, fonts)
        sent = {e['params']['requestId']: e['params']['request']['url'] for e in self.events if e['method'] == 'Network.requestWillBeSent'}
        bad = [f'{sent.get(e["params"]["requestId"], "?")}: {e["params"]["errorText"]}'
               for e in self.events if e['method'] == 'Network.loadingFailed']
        bad += [f'{u}: outside file://' for u in sent.values() if not re.match(r'^(file|data|blob|about):', u)]
        bad += [f'JS exception: {e["params"]["exceptionDetails"].get("exception", {}).get("description", e["params"]["exceptionDetails"]["text"])}'
                for e in self.events if e['method'] == 'Runtime.exceptionThrown']
        return bad

    def screenshot(self, path:Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        data = base64.b64decode(self.send('Page.captureScreenshot', format='png')['data'])
        tmp = path.with_suffix('.tmp'); tmp.write_bytes(data); tmp.replace(path)

@contextmanager
def chromium(exe:str):
    "A headless Chromium on a fresh profile, as a `Page` on its first tab."
    prof = Path(tempfile.mkdtemp(prefix='awd-docs-chromium-'))
    proc = subprocess.Popen([exe, *FLAGS, f'--user-data-dir={prof}', 'about:blank'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file, t0 = prof/'DevToolsActivePort', time.time()
        while not (port_file.exists() and port_file.read_text().count('\n') >= 1):
            if proc.poll() is not None or time.time() - t0 > 60: raise RuntimeError(f'{exe} did not start')
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        local = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never through a proxy
        targets = json.loads(local.open(f'http://127.0.0.1:{port}/json/list', timeout=10).read())
        yield Page(next(t['webSocketDebuggerUrl'] for t in targets if t['type'] == 'page'))
    finally:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
        shutil.rmtree(prof, ignore_errors=True)

@pytest.fixture(scope='module')
def browser(site):
    exe = required_chromium()
    with chromium(exe) as page: yield page

SIG_JS = """(anchor => {
  const h = document.getElementById(anchor);
  if (!h || !/^H[1-6]$/.test(h.tagName) || !h.offsetHeight) return null;
  let sig = '', doc = '';
  for (let e = h.nextElementSibling; e && !/^H[1-3]$/.test(e.tagName) && e.tagName != 'HR'; e = e.nextElementSibling) {
    if (!sig && e.querySelector && (e.matches('pre, .highlight') || e.querySelector('pre'))) sig = e.innerText;
    else if (sig && !doc && e.tagName == 'P') doc = e.innerText;
  }
  return {heading: h.innerText, sig, doc};
})(%s)"""

def test_every_page_in_chromium(site, browser):
    names, problems = public_names(), []
    for nb, page in pages():
        url = (site/page).as_uri()
        problems += [f'{page}: {b}' for b in browser.open(url)]
        imgs = browser.js("[...document.querySelectorAll('.md-content img')].map(i => i.naturalWidth)")
        if len(imgs) < saved_figures(nb): problems.append(f'{page}: {len(imgs)} images shown, {saved_figures(nb)} saved in {nb}')
        problems += [f'{page}: image {i} not decoded' for i, w in enumerate(imgs) if not w > 0]
        if browser.js("document.querySelectorAll('.katex-error').length"): problems.append(f'{page}: maths KaTeX cannot render')
        if has_maths(page) and not browser.js("document.querySelectorAll('.md-content .katex').length"):
            problems.append(f'{page}: maths not rendered')
        if not browser.js("document.querySelector('.md-nav--primary') && document.querySelector('.md-nav--primary').innerText.length > 0"):
            problems.append(f'{page}: no sidebar')
        for name, anchor in names.get(page, []):
            r = browser.js(SIG_JS % json.dumps(anchor))
            if not r: problems.append(f'{page}: no API entry #{anchor} for {name}'); continue
            if f'{name}(' not in r['sig'].replace(' ', ''): problems.append(f'{page}: {name}: no signature under its heading')
            if not r['doc'].strip(): problems.append(f'{page}: {name}: no docstring')
    assert not problems, '\n'.join(problems)

def test_sidebar_in_reading_order_tutorial_first(site, browser):
    browser.open((site/'index.html').as_uri())
    hrefs = browser.js("[...document.querySelectorAll('.md-nav--primary a.md-nav__link[href$=\".html\"]')].map(a => a.href)")
    got = [h.split('/_docs/', 1)[1] for h in hrefs if '/_docs/' in h]
    got = [g for i, g in enumerate(got) if g not in got[:i]]
    want = [page for _, page in pages()]
    assert got == want
    assert want[0].startswith(bd.TUTORIALS + '/') or not any(p.startswith(bd.TUTORIALS + '/') for p in want)

def search(browser, query):
    "Type `query` into the search box of the current page; return the result links."
    browser.js("document.querySelector('label.md-search__icon, .md-header__button[for=__search]')?.click(); "
               "document.querySelector('input.md-search__input').focus(); 1")
    browser.send('Input.insertText', text=query)
    return browser.wait_js("(() => { const a = [...document.querySelectorAll('.md-search-result__item a, a.md-search-result__link')]"
                           ".map(a => a.href); return a.length ? a : null })()")

def test_search_finds_a_public_name(site, browser):
    names = public_names()
    assert any(n == 'MaskRecorder' for ns in names.values() for n, _ in ns)
    for page, ns in names.items():                    # one public name per API page, looked up from the overview
        browser.open((site/'index.html').as_uri())
        name = 'MaskRecorder' if any(n == 'MaskRecorder' for n, _ in ns) else ns[0][0]
        hits = search(browser, name)
        assert any(re.split(r'[?#]', h)[0].endswith('/' + page) for h in hits), (name, page, hits[:5])

def test_screenshots(site, browser):
    "Screenshots a reviewer can look at: the overview, the first tutorial, an API page at its first signature and figure."
    ps = [p for _, p in pages()]
    tut = next((p for p in ps if p.startswith(bd.TUTORIALS + '/')), None)
    api = 'recorder.html' if 'recorder.html' in ps else next(p for p in ps if '/' not in p and p != 'index.html')
    shots = [('index', 'index.html', None),
             ('api', api, "document.getElementById('maskrecorder') || document.querySelector('.md-content hr + h3, .md-content h3')")]
    if tut: shots.insert(1, ('tutorial', tut, "document.querySelector('.md-content img')"))
    figs = next((p for p in ps if p == 'plots.html'), api)
    shots.append(('figure', figs, "document.querySelector('.md-content img')"))
    for name, page, el in shots:
        assert browser.open((site/page).as_uri()) == []
        if el: browser.js(f"(e => {{ if (e) {{ e.scrollIntoView({{block: 'start'}}); window.scrollBy(0, -90) }} return 1 }})({el})")
        time.sleep(0.2)
        browser.screenshot(SHOTS/f'{name}.png')
        assert (SHOTS/f'{name}.png').stat().st_size > 10_000
