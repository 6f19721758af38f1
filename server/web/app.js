// xai-serve's web page: the REST routes of this same server (server/rest_gateway.h), nothing
// else. No build step, no dependencies. The page's state is in its URL (?model=&version=&
// mode=&method=&layer=&target=&sample=), so that a link reproduces an explanation of a
// bundled sample; an uploaded image stays in the tab.

// The methods are the server's (DescribeModel's `methods`, from its method tables): the page
// keeps no list of its own. The comparison grid: those of them that cost about a forward and
// a backward each, and two pixel attributions.
const COMPARED = ['GRAD_CAM', 'GRAD_CAM_PLUS_PLUS', 'XGRAD_CAM', 'HIRES_CAM', 'LAYER_CAM',
  'EIGEN_CAM', 'SALIENCY', 'INTEGRATED_GRADIENTS'];
const methodInfo = (method) => state.methods.find((m) => m.name === method);
const title = (method) => (methodInfo(method) || { title: method }).title;
const isCam = (method) => (methodInfo(method) || {}).rpc === 'GradCAM';

const $ = (id) => document.getElementById(id);
const state = {
  models: [],          // ListModels' READY entries
  description: null,   // DescribeModel of the chosen version
  methods: [],         // its served methods: {name, rpc, title, family}
  image: null,         // {base64, url, name, sample}
  classes: [],         // Classify's top classes of the image
  target: null,        // a class index; null: the top-1 class
  busy: false,
};

// ---- the REST calls -------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `the server answered HTTP ${status}`);
    this.status = status;
    this.code = body && body.code ? body.code : `HTTP ${status}`;
    this.requestId = body && body.request_id ? body.request_id : '';
  }
}

async function api(method, path, body) {
  const headers = {};
  const token = sessionStorage.getItem('xai-token');
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try {
    json = await response.json();
  } catch {
    throw new ApiError(response.status, { message: `the answer to ${path} was not JSON` });
  }
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

function modelPath() {
  const name = encodeURIComponent($('model').value);
  return `/v1/models/${name}/versions/${$('version').value}`;
}

// ---- errors, shown to the person ------------------------------------------------------

function showError(error) {
  const box = $('error');
  if (!error) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  const code = error.code ? `${error.code}: ` : '';
  const id = error.requestId ? ` (request ${error.requestId})` : '';
  box.textContent = `${code}${error.message}${id}`;
  box.hidden = false;
}

async function guarded(task) {
  try {
    showError(null);
    await task();
  } catch (error) {
    showError(error instanceof ApiError ? error : { message: String(error.message || error) });
  }
}

// ---- bytes ----------------------------------------------------------------------------

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; ++i) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const pngUrl = (base64) => URL.createObjectURL(new Blob([fromBase64(base64)], { type: 'image/png' }));

// A Tensor message ({shape, data: base64 float32 little-endian}) as NumPy's .npy file.
function npyBlob(tensor) {
  const shape = tensor.shape.map(Number);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = new Uint8Array(10 + header.length);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);  // \x93NUMPY, version 1.0
  head[8] = header.length & 0xff;
  head[9] = header.length >> 8;
  for (let i = 0; i < header.length; ++i) head[10 + i] = header.charCodeAt(i);
  return new Blob([head, fromBase64(tensor.data)], { type: 'application/octet-stream' });
}

// ---- the URL ----------------------------------------------------------------------------

function saveUrl() {
  const params = new URLSearchParams();
  if ($('model').value) params.set('model', $('model').value);
  if ($('version').value) params.set('version', $('version').value);
  params.set('mode', mode());
  params.set('method', $('method').value);
  if ($('layer').value) params.set('layer', $('layer').value);
  if (state.target !== null) params.set('target', String(state.target));
  if (state.image && state.image.sample) params.set('sample', state.image.sample);
  history.replaceState(null, '', `${location.pathname}?${params}`);
}

const mode = () => document.querySelector('input[name="mode"]:checked').value;

function selectIfPresent(select, value) {
  if (value !== null && [...select.options].some((o) => o.value === value)) select.value = value;
}

// ---- models ---------------------------------------------------------------------------

async function loadModels() {
  const list = await api('GET', '/v1/models');
  state.models = (list.models || []).filter((m) => m.state === 'READY');
  const names = [...new Set(state.models.map((m) => m.name))];
  $('model').replaceChildren(...names.map((n) => new Option(n, n)));
  if (names.length === 0) {
    $('model-state').textContent = 'no model is ready';
    return;
  }
}

function fillVersions() {
  const versions = state.models.filter((m) => m.name === $('model').value)
    .map((m) => m.version).sort((a, b) => Number(b) - Number(a));
  $('version').replaceChildren(...versions.map((v) => new Option(`${v}`, `${v}`)));
}

// The method menu from DescribeModel's methods, grouped by the RPC that runs them; the
// chosen method stays chosen when the new list has it.
function fillMethods(methods) {
  const chosen = $('method').value;
  state.methods = methods;
  const groups = [['Class activation maps', 'GradCAM'], ['Pixel attributions', 'Attribute']];
  $('method').replaceChildren(...groups.map(([label, rpc]) => {
    const group = document.createElement('optgroup');
    group.label = label;
    group.append(...methods.filter((m) => m.rpc === rpc).map((m) => new Option(m.title, m.name)));
    return group;
  }));
  selectIfPresent($('method'), chosen);
}

async function describe() {
  state.description = await api('GET', modelPath());
  const d = state.description;
  fillMethods(d.methods || []);
  const layers = (d.layers || []).filter((l) => l.camTarget);
  $('layer').replaceChildren(...layers.map((l) => {
    const shape = (l.outputShape || []).join('×');
    // Layouts other than NCHW say how the page's map is read from the layer (tokens,
    // channels-last); the transformer's recommended layer says so.
    const layout = l.layout === 'TOKENS' ? `, tokens ${l.prefixTokens || 0}+${l.gridHeight}×${l.gridWidth}`
      : l.layout === 'NHWC' ? ', channels-last' : '';
    const recommended = l.path === d.recommendedCamLayer ? ' — recommended' : '';
    return new Option(`${l.path} (${l.type}${shape ? `, ${shape}` : ''}${layout})${recommended}`, l.path);
  }));
  $('layer').value = d.defaultCamLayer;
  const status = state.models.find((m) => m.name === d.model.name && `${m.version}` === `${d.model.version}`);
  $('model-state').textContent =
    `${d.numClasses} classes, input ${(d.inputShape || []).join('×')}` +
    (status && status.devices && status.devices.length ? ` on ${status.devices.join(', ')}` : '');
}

// ---- the image --------------------------------------------------------------------------

async function loadSamples() {
  const samples = await api('GET', '/samples/index.json');
  $('samples').replaceChildren(...samples.map((name) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'sample';
    button.dataset.sample = name;
    const img = document.createElement('img');
    img.src = `/samples/${name}`;
    img.alt = `Sample image ${name}`;
    button.append(img);
    button.title = `Use the sample ${name}`;
    button.addEventListener('click', () => guarded(() => useSample(name)));
    return button;
  }));
}

async function useSample(name) {
  const response = await fetch(`/samples/${encodeURIComponent(name)}`);
  if (!response.ok) throw new Error(`the sample ${name} could not be loaded (HTTP ${response.status})`);
  const buffer = await response.arrayBuffer();
  await useImage(buffer, name, name, 'image/png');
}

async function useFile(file) {
  if (!file) return;
  await useImage(await file.arrayBuffer(), file.name || 'pasted image', null, file.type);
}

async function useImage(buffer, name, sample, type) {
  if (state.image) URL.revokeObjectURL(state.image.url);
  state.image = {
    base64: toBase64(buffer), name, sample,
    url: URL.createObjectURL(new Blob([buffer], { type: type || 'application/octet-stream' })),
  };
  for (const button of document.querySelectorAll('.sample')) {
    button.setAttribute('aria-pressed', String(button.dataset.sample === sample));
  }
  $('preview-img').src = state.image.url;
  $('preview-img').alt = `The image to explain: ${name}`;
  $('preview-caption').textContent = name;
  $('preview').hidden = false;
  state.target = null;
  clearResult();
  await classify();
  $('run').disabled = false;
  saveUrl();
}

// ---- Classify: the top classes, each a target -------------------------------------------

async function classify() {
  state.classes = [];
  renderClasses();
  if (!state.image || !$('model').value) return;
  const answer = await api('POST', `${modelPath()}:classify`,
    { image: { encoded: state.image.base64 }, topK: 5 });
  state.classes = answer.classes || [];
  renderClasses();
}

const labelOf = (c) => (c.label ? c.label : `class ${c.index}`);

function renderClasses() {
  const items = state.classes.map((c, rank) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'class';
    button.dataset.index = String(c.index);
    const selected = state.target === null ? rank === 0 : state.target === c.index;
    button.setAttribute('aria-pressed', String(selected));
    const percent = (100 * c.probability).toFixed(1);
    button.innerHTML = '<span class="label"></span><span class="bar"><span></span></span><span class="p"></span>';
    button.querySelector('.label').textContent = labelOf(c);
    button.querySelector('.bar > span').style.width = `${percent}%`;
    button.querySelector('.p').textContent = `${percent}%`;
    button.setAttribute('aria-label', `Explain ${labelOf(c)} (${percent}%)`);
    button.addEventListener('click', () => {
      state.target = rank === 0 ? null : c.index;
      renderClasses();
      saveUrl();
      guarded(run);
    });
    li.append(button);
    return li;
  });
  $('classes').replaceChildren(...items);
}

// ---- explanations -----------------------------------------------------------------------

function clearResult() {
  for (const id of ['original', 'overlay', 'diagram']) {
    $(id).removeAttribute('src');
    $(id).alt = '';
  }
  $('scale').hidden = true;
  $('downloads').hidden = true;
  $('grid').replaceChildren();
  $('chains').querySelector('tbody').replaceChildren();
  $('timing').textContent = '';
}

// One explanation of `method`: {png (base64), map (Tensor), target, ms, classes (the top
// classes of the same forward), scale: what the overlay's full colour stands for}.
async function explainWith(method) {
  const body = { image: { encoded: state.image.base64 }, overlay: { enabled: true } };
  if (state.target !== null) body.targetClasses = [state.target];
  const started = performance.now();
  if (isCam(method)) {
    body.method = method;
    if ($('layer').value) body.layers = [$('layer').value];
    const answer = await api('POST', `${modelPath()}:gradcam`, body);
    const e = answer.explanations[0];
    return {
      png: e.overlayPng, map: e.cam, target: e.targetClass, ms: performance.now() - started,
      classes: answer.classes || [], layers: answer.layers || [],
      // The map is scaled to its own maximum: the raw map's peak is what red stands for.
      scale: { kind: 'own maximum', value: floatsOf(e.raw).reduce((a, b) => Math.max(a, b), 0) },
    };
  }
  body.method = method;
  const answer = await api('POST', `${modelPath()}:attribute`, body);
  const a = answer.attributions[0];
  // The overlay draws the positive part at full strength from its 99.9th percentile up (the
  // server's default clip; core/image/overlay.cc's Percentile, interpolated).
  const positive = Float32Array.from(floatsOf(a.map), (v) => Math.max(v, 0)).sort();
  const position = 0.999 * (positive.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, positive.length - 1);
  const clip = positive.length
    ? positive[below] + (position - below) * (positive[above] - positive[below]) : 0;
  return {
    png: a.overlayPng, map: a.map, target: a.targetClass, ms: performance.now() - started,
    classes: answer.classes || [], layers: [],
    scale: { kind: '99.9th percentile (positive part)', value: clip },
  };
}

// A Tensor's float32 little-endian data as numbers.
function floatsOf(tensor) {
  const bytes = fromBase64(tensor.data);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

// "0.0123", "4.56e-7": a scale's value, readable whatever its magnitude.
const formatValue = (v) => (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4) ? v.toExponential(2) : v.toPrecision(3));

// "(99.8%)" for a target among the top classes of the same forward, else that it is below them.
function probabilityOf(classes, target) {
  const c = classes.find((k) => k.index === target);
  if (!c) return `(below the top ${classes.length})`;
  const percent = 100 * c.probability;
  return `(${percent < 0.1 ? '<0.1' : percent.toFixed(1)}%)`;
}

function targetLabel(index) {
  const known = state.classes.find((c) => c.index === index);
  if (known) return labelOf(known);
  const labels = state.description ? state.description.labels || [] : [];
  return labels[index] ? labels[index] : `class ${index}`;
}

async function explain() {
  const method = $('method').value;
  const result = await explainWith(method);
  const what = `${title(method)} of “${targetLabel(result.target)}” ${probabilityOf(result.classes, result.target)}`;
  $('original').src = state.image.url;
  $('original').alt = `The input image, ${state.image.name}`;
  $('overlay').src = pngUrl(result.png);
  $('overlay').alt = `${what}: a heatmap over the input, red where the evidence is strongest`;
  $('overlay').dataset.target = String(result.target);
  // What the colours mean: the layer, the scale and the value that full red stands for.
  const where = result.layers.length ? `layer ${result.layers.join(' + ')} · ` : '';
  $('overlay-caption').replaceChildren(
    Object.assign(document.createElement('span'), { className: 'what', textContent: what }),
    Object.assign(document.createElement('span'), {
      className: 'scale-note',
      textContent: `${where}scaled to this map's ${result.scale.kind} (${formatValue(result.scale.value)})`,
    }));
  drawScale();
  $('scale-low').textContent = '0';
  $('scale-high').textContent = `${formatValue(result.scale.value)} (${result.scale.kind})`;
  $('scale').hidden = false;
  const stem = `${$('model').value}-${state.image.name.replace(/\.[^.]*$/, '')}-${method.toLowerCase()}-${result.target}`;
  $('download-npy').href = URL.createObjectURL(npyBlob(result.map));
  $('download-npy').download = `${stem}.npy`;
  $('download-png').href = pngUrl(result.png);
  $('download-png').download = `${stem}.png`;
  $('downloads').hidden = false;
  $('timing').textContent = `${what}: ${result.ms.toFixed(0)} ms (server and network)`;
}

async function compare() {
  const cells = COMPARED.filter(methodInfo).map((method) => {
    const figure = document.createElement('figure');
    figure.className = 'cell';
    figure.dataset.method = method;
    const img = document.createElement('img');
    img.alt = '';
    const caption = document.createElement('figcaption');
    caption.textContent = `${title(method)}: waiting`;
    figure.append(img, caption);
    return figure;
  });
  $('grid').replaceChildren(...cells);
  const started = performance.now();
  // One after another: the server's queue, not the page, decides what runs at once.
  for (const cell of cells) {
    const method = cell.dataset.method;
    const caption = cell.querySelector('figcaption');
    try {
      const result = await explainWith(method);
      const img = cell.querySelector('img');
      img.src = pngUrl(result.png);
      img.alt = `${title(method)} of “${targetLabel(result.target)}”`;
      caption.textContent = `${title(method)}, ${result.ms.toFixed(0)} ms`;
    } catch (error) {
      caption.textContent = `${title(method)}: ${error.message}`;
      cell.classList.add('failed');
    }
  }
  $('timing').textContent = `${cells.length} methods in ${(performance.now() - started).toFixed(0)} ms`;
}

async function decisionPath() {
  const body = { image: { encoded: state.image.base64 }, render: true };
  if (state.target !== null) body.targetClass = state.target;
  const started = performance.now();
  const answer = await api('POST', `${modelPath()}:decisionPath`, body);
  const ms = performance.now() - started;
  const what = `Decision path of “${targetLabel(answer.targetClass)}”`;
  $('diagram').src = pngUrl(answer.diagramPng);
  $('diagram').alt = `${what}: the critical channels of each layer, shallow to deep, and the ` +
    'connections between them; the table below lists the chains';
  const rows = (answer.chains || []).map((chain, rank) => {
    const tr = document.createElement('tr');
    const channels = chain.channels.map((c, i) => `${answer.layers[i]}:${c}`).join(' → ');
    for (const text of [String(rank + 1), channels, chain.logScore.toFixed(3)]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  $('chains').querySelector('tbody').replaceChildren(...rows);
  $('timing').textContent = `${what}: ${ms.toFixed(0)} ms (server and network)`;
}

async function run() {
  if (!state.image || state.busy) return;
  if (!$('model').value) throw new Error('no model is ready on this server: see GET /v1/models');
  state.busy = true;
  $('run').disabled = true;
  document.body.setAttribute('aria-busy', 'true');
  try {
    saveUrl();
    clearResult();
    if (mode() === 'explain') await explain();
    else if (mode() === 'compare') await compare();
    else await decisionPath();
  } finally {
    state.busy = false;
    $('run').disabled = false;
    document.body.removeAttribute('aria-busy');
  }
}

// ---- the colour scale: OpenCV's JET, the overlays' default --------------------------------

function drawScale() {
  const canvas = $('scale-bar');
  const context = canvas.getContext('2d');
  const clamp = (v) => Math.max(0, Math.min(1, v));
  for (let x = 0; x < canvas.width; ++x) {
    const v = x / (canvas.width - 1);
    const r = clamp(1.5 - Math.abs(4 * v - 3));
    const g = clamp(1.5 - Math.abs(4 * v - 2));
    const b = clamp(1.5 - Math.abs(4 * v - 1));
    context.fillStyle = `rgb(${255 * r}, ${255 * g}, ${255 * b})`;
    context.fillRect(x, 0, 1, canvas.height);
  }
}

// ---- the controls ----------------------------------------------------------------------

function showMode() {
  const m = mode();
  $('explain-view').hidden = m !== 'explain';
  $('compare-view').hidden = m !== 'compare';
  $('path-view').hidden = m !== 'path';
  $('method-row').hidden = m !== 'explain';
  $('layer-row').hidden = m !== 'explain' || !isCam($('method').value);
  $('run').textContent = m === 'explain' ? 'Explain' : m === 'compare' ? 'Compare' : 'Find the path';
}

function wire() {
  $('model').addEventListener('change', () => guarded(async () => {
    fillVersions();
    await describe();
    clearResult();
    await classify();
    saveUrl();
  }));
  $('version').addEventListener('change', () => guarded(async () => {
    await describe();
    clearResult();
    await classify();
    saveUrl();
  }));
  $('method').addEventListener('change', () => { showMode(); saveUrl(); });
  $('layer').addEventListener('change', saveUrl);
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener('change', () => { showMode(); clearResult(); saveUrl(); });
  }
  $('run').addEventListener('click', () => guarded(run));
  const drop = $('drop');
  drop.addEventListener('click', () => $('file').click());
  drop.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      $('file').click();
    }
  });
  $('file').addEventListener('change', () => guarded(() => useFile($('file').files[0])));
  drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    guarded(() => useFile(event.dataTransfer.files[0]));
  });
  document.addEventListener('paste', (event) => {
    const file = [...event.clipboardData.files].find((f) => f.type.startsWith('image/'));
    if (file) guarded(() => useFile(file));
  });
  const token = $('token');
  token.value = sessionStorage.getItem('xai-token') || '';
  token.addEventListener('change', () => {
    if (token.value) sessionStorage.setItem('xai-token', token.value);
    else sessionStorage.removeItem('xai-token');
    guarded(start);
  });
}

// Loads the models and samples, then applies the URL's state (and explains its sample).
async function start() {
  const params = new URLSearchParams(location.search);
  try {
    await loadModels();
  } catch (error) {
    if (error.status === 401 || error.status === 403) $('token-box').open = true;
    throw error;
  }
  selectIfPresent($('model'), params.get('model'));
  fillVersions();
  selectIfPresent($('version'), params.get('version'));
  if ($('model').value) await describe();
  const wanted = document.querySelector(`input[name="mode"][value="${CSS.escape(params.get('mode') || '')}"]`);
  if (wanted) wanted.checked = true;
  selectIfPresent($('method'), params.get('method'));
  selectIfPresent($('layer'), params.get('layer'));
  showMode();
  await loadSamples();
  const sample = params.get('sample');
  if (sample && $('model').value) {
    await useSample(sample);
    const target = params.get('target');
    if (target !== null && /^[0-9]+$/.test(target)) {
      state.target = Number(target);
      renderClasses();
    }
    await run();
  }
  document.body.dataset.ready = 'true';
}

wire();
showMode();
guarded(start).finally(() => { document.body.dataset.ready = 'true'; });
