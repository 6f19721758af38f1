// Validates rendered Kubernetes manifests offline: every object against the Kubernetes API
// schema (kubernetes-models), then what a schema cannot see. Prints one line per check and
// "deploy <name>: N passed, M failed"; exits 1 on any failure.
//
//   node validate.mjs NAME RENDERED.yaml [--gpu] [--image NAME] [--server-seconds N]
//
// --gpu: the rendering must ask for nvidia.com/gpu (else it must not); --image: the
// server's image name; --server-seconds: the server's drain plus its shutdown grace,
// which the pods' termination grace period must exceed. A rendering with a Job (the
// batch-job component) is checked against the server it calls (section 3).
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { parseAllDocuments } from "yaml";

const [name, file, ...rest] = process.argv.slice(2);
const flag = (f) => rest.includes(f);
const option = (f) => (rest.includes(f) ? rest[rest.indexOf(f) + 1] : undefined);
let passed = 0;
let failed = 0;
function check(what, ok, detail = "") {
  if (ok) passed++;
  else failed++;
  console.log(`deploy ${name}: ${ok ? "ok  " : "FAIL"} ${what}${ok || !detail ? "" : ": " + detail}`);
}

const objects = parseAllDocuments(readFileSync(file, "utf8"))
  .map((d) => d.toJS())
  .filter((o) => o);
check("the rendering holds objects", objects.length > 0);

// 1. The schema: kubernetes-models/<group>/<version>/<Kind> for each object.
const require = createRequire(import.meta.url);
const modelsRoot = require.resolve("kubernetes-models/package.json").replace(/package\.json$/, "");
for (const o of objects) {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
  const path = `${group ? group + "/" : ""}${version}/${o.kind}`;
  const what = `${o.kind} ${o.metadata?.name} matches the ${o.apiVersion} schema`;
  if (!existsSync(`${modelsRoot}${path}.js`)) {
    check(what, false, `no schema for ${o.apiVersion} ${o.kind}`);
    continue;
  }
  const model = await import(`kubernetes-models/${path}`);
  try {
    new model[o.kind](o).validate();
    check(what, true);
  } catch (e) {
    check(what, false, e.message);
  }
}

// 2. What the schema cannot see.
const of = (kind) => objects.filter((o) => o.kind === kind);
const deployments = of("Deployment");
check("one Deployment", deployments.length === 1, `${deployments.length}`);
const deployment = deployments[0];
const pod = deployment?.spec?.template;
const containers = pod?.spec?.containers ?? [];
const server = containers[0] ?? {};
const ports = new Map((server.ports ?? []).map((p) => [p.name, p.containerPort]));
const portNumbers = new Set(ports.values());
const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

check("the Deployment's selector matches its pods' labels",
  matches(deployment?.spec?.selector?.matchLabels, pod?.metadata?.labels));
for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
  const p = server[probe];
  check(`${probe} is a gRPC probe on a container port`, p?.grpc && portNumbers.has(p.grpc.port),
    JSON.stringify(p));
}
check("liveness asks 'liveness', readiness a serving name",
  server.livenessProbe?.grpc?.service === "liveness" &&
    ["", "xai.v1.Explainer", undefined].includes(server.readinessProbe?.grpc?.service));
for (const service of of("Service")) {
  check(`Service ${service.metadata.name} selects the server's pods`,
    matches(service.spec.selector, pod?.metadata?.labels));
  for (const port of service.spec.ports ?? []) {
    const target = port.targetPort ?? port.port;
    check(`Service ${service.metadata.name} port ${port.port} targets a container port`,
      typeof target === "string" ? ports.has(target) : portNumbers.has(target), `${target}`);
  }
}
check("a headless Service for client-side balancing",
  of("Service").some((s) => s.spec.clusterIP === "None"));
for (const kind of ["PodDisruptionBudget"]) {
  for (const o of of(kind)) {
    check(`${kind} ${o.metadata.name} selects the server's pods`,
      matches(o.spec.selector?.matchLabels, pod?.metadata?.labels));
  }
}
for (const hpa of of("HorizontalPodAutoscaler")) {
  check(`HorizontalPodAutoscaler ${hpa.metadata.name} scales the Deployment`,
    hpa.spec.scaleTargetRef.kind === "Deployment" &&
      hpa.spec.scaleTargetRef.name === deployment?.metadata?.name);
}
const asksGpu = containers.some((c) => c.resources?.limits?.["nvidia.com/gpu"] !== undefined);
check(flag("--gpu") ? "the server asks for a GPU" : "no GPU is asked for", asksGpu === flag("--gpu"));
if (flag("--gpu")) {
  check("GPU pods tolerate the GPU taint",
    (pod?.spec?.tolerations ?? []).some((t) => t.key === "nvidia.com/gpu"));
}
const seconds = Number(option("--server-seconds") ?? 0);
check(`termination grace exceeds the server's drain and grace (${seconds} s)`,
  (pod?.spec?.terminationGracePeriodSeconds ?? 30) > seconds,
  `${pod?.spec?.terminationGracePeriodSeconds}`);
const args = server.args ?? [];
const argSeconds = (flagName) =>
  Number((args.find((a) => a.startsWith(`${flagName}=`)) ?? "=0").split("=")[1]);
check("the server's own drain and grace fit in the termination grace",
  argSeconds("--drain-seconds") + argSeconds("--shutdown-grace-seconds") <
    (pod?.spec?.terminationGracePeriodSeconds ?? 30));
const metricsPort = Number(
  (args.find((a) => a.startsWith("--metrics-address=")) ?? "").split(":").pop());
check("the metrics address is a container port named metrics",
  metricsPort > 0 && ports.get("metrics") === metricsPort, `${metricsPort}`);
const annotations = pod?.metadata?.annotations ?? {};
check("the scrape annotations name the metrics port and path",
  annotations["prometheus.io/scrape"] === "true" &&
    Number(annotations["prometheus.io/port"]) === metricsPort &&
    annotations["prometheus.io/path"] === "/metrics", JSON.stringify(annotations));
const image = option("--image");
if (image) {
  check(`the server runs image ${image}`, (server.image ?? "").split(":")[0] === image, server.image);
}
const security = server.securityContext ?? {};
check("non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp",
  pod?.spec?.securityContext?.runAsNonRoot === true && security.readOnlyRootFilesystem === true &&
    security.allowPrivilegeEscalation === false &&
    (security.capabilities?.drop ?? []).includes("ALL") &&
    pod?.spec?.securityContext?.seccompProfile?.type === "RuntimeDefault");
const modelVolume = (pod?.spec?.volumes ?? []).find((v) => v.name === "models");
check("the model repository is mounted at /models",
  modelVolume && (server.volumeMounts ?? []).some((m) => m.name === "models" && m.mountPath === "/models"));
if (modelVolume?.persistentVolumeClaim) {
  check("the models' claim is part of the rendering",
    of("PersistentVolumeClaim").some((c) => c.metadata.name === modelVolume.persistentVolumeClaim.claimName));
}
const argValue = (flagName) => (args.find((a) => a.startsWith(`${flagName}=`)) ?? "").split("=")[1];
const tls = argValue("--tls-cert") !== undefined;
check(flag("--tls") ? "the server speaks TLS" : "no TLS", tls === flag("--tls"));
if (tls) {
  const healthPort = Number((argValue("--health-address") ?? "").split(":").pop());
  check("with TLS, the probes ask the plaintext health port (kubelet's gRPC probes cannot speak TLS)",
    healthPort > 0 && healthPort === ports.get("health") &&
      ["startupProbe", "readinessProbe", "livenessProbe"].every((p) => server[p]?.grpc?.port === healthPort));
  const fromSecret = (file) => (server.volumeMounts ?? []).some((m) =>
    file?.startsWith(m.mountPath + "/") &&
      (pod?.spec?.volumes ?? []).some((v) => v.name === m.name && v.secret?.secretName));
  check("the TLS files and the token file come from mounted Secrets",
    fromSecret(argValue("--tls-cert")) && fromSecret(argValue("--tls-key")) &&
      fromSecret(argValue("--auth-tokens")));
  check("mounted Secrets are re-read (--reload-seconds > 0)", Number(argValue("--reload-seconds")) > 0);
}

// 3. A batch Job (deploy/components/batch-job): the CLI on the server's image, one shard per
// index, reaching every server pod through the headless Service.
for (const job of of("Job")) {
  const what = `Job ${job.metadata?.name}`;
  const spec = job.spec ?? {};
  const jobPod = spec.template?.spec ?? {};
  const jobContainers = jobPod.containers ?? [];
  const cli = jobContainers[0] ?? {};
  const env = new Map((cli.env ?? []).map((e) => [e.name, e.value]));
  // kubernetes-models' schema accepts fields it does not know: compare the spec's names
  // with the JobSpec fields it declares, so that a misspelt backoffLimitPerIndex fails.
  const jobSpecFields = new Set(
    [...readFileSync(`${modelsRoot}batch/v1/JobSpec.d.ts`, "utf8")
      .matchAll(/^\s+"?([A-Za-z]+)"?\??:/gm)].map((m) => m[1]));
  const unknown = Object.keys(spec).filter((k) => !jobSpecFields.has(k));
  check(`${what} names only fields of the schema's JobSpec`, unknown.length === 0, unknown.join(", "));
  check(`${what} is Indexed`, spec.completionMode === "Indexed", `${spec.completionMode}`);
  check(`${what}: XAI_BATCH_SHARDS equals completions (${spec.completions})`,
    Number.isInteger(spec.completions) && env.get("XAI_BATCH_SHARDS") === String(spec.completions),
    `XAI_BATCH_SHARDS=${env.get("XAI_BATCH_SHARDS")}`);
  check(`${what} reruns a failed index (backoffLimitPerIndex >= 1, maxFailedIndexes <= completions)`,
    Number.isInteger(spec.backoffLimitPerIndex) && spec.backoffLimitPerIndex >= 1 &&
      (spec.maxFailedIndexes === undefined ||
        (Number.isInteger(spec.maxFailedIndexes) && spec.maxFailedIndexes <= spec.completions)),
    `backoffLimitPerIndex ${spec.backoffLimitPerIndex}, maxFailedIndexes ${spec.maxFailedIndexes}`);
  check(`${what}: restartPolicy Never (a failed pod fails its index; podFailurePolicy needs it)`,
    jobPod.restartPolicy === "Never", `${jobPod.restartPolicy}`);
  check(`${what} runs the server's image (${server.image})`,
    jobContainers.length > 0 && jobContainers.every((c) => c.image === server.image),
    jobContainers.map((c) => c.image).join(", "));
  check(`${what} runs the xai CLI (the image's entrypoint is xai-server)`,
    /(^|\/)xai$/.test(cli.command?.[0] ?? ""), JSON.stringify(cli.command));
  const cliArgs = cli.args ?? [];
  const cliOption = (f) => {
    const i = cliArgs.findIndex((a) => a === f || a.startsWith(`${f}=`));
    return i < 0 ? undefined : cliArgs[i] === f ? cliArgs[i + 1] : cliArgs[i].slice(f.length + 1);
  };
  // dns:///HOST:PORT, HOST the Service's name or its longer forms (NAME.NAMESPACE[.svc...]).
  const target = cliOption("--server") ?? "";
  const dns = /^dns:(?:\/\/[^/]*)?\/([^:/]+):(\d+)$/.exec(target);
  const serviceName = dns?.[1].split(".")[0];
  const headless = of("Service").find((s) => s.metadata.name === serviceName);
  check(`${what}: --server is dns:/// on a headless Service of the rendering`,
    dns && headless?.spec?.clusterIP === "None", target);
  // A headless Service's DNS names the pods themselves: the port is the pods' gRPC port.
  const grpcPort = ports.get("grpc");
  const listenPort = Number((argValue("--address") ?? "").split(":").pop());
  check(`${what}: --server's port is the server's gRPC port (${grpcPort}, --address ${listenPort})`,
    dns && Number(dns[2]) === grpcPort && grpcPort === listenPort &&
      (headless?.spec?.ports ?? []).some((p) => p.port === grpcPort), target);
  const volumes = new Map((jobPod.volumes ?? []).map((v) => [v.name, v]));
  const mounts = jobContainers.flatMap((c) => c.volumeMounts ?? []);
  const missing = mounts.filter((m) => !volumes.has(m.name)).map((m) => m.name);
  check(`${what}: every volumeMount has a volume`, missing.length === 0, missing.join(", "));
  for (const v of volumes.values()) {
    if (!v.persistentVolumeClaim) continue;
    check(`${what}: claim ${v.persistentVolumeClaim.claimName} is part of the rendering`,
      of("PersistentVolumeClaim").some((c) => c.metadata.name === v.persistentVolumeClaim.claimName));
  }
  // `xai [global options] batch RPC MODEL INPUT --out DIR`: INPUT and DIR on a claim,
  // DIR writable.
  const onClaim = (path, write) => mounts.some((m) =>
    path?.startsWith(m.mountPath.replace(/\/$/, "") + "/") && volumes.get(m.name)?.persistentVolumeClaim &&
      !(write && (m.readOnly || volumes.get(m.name).persistentVolumeClaim.readOnly)));
  const batch = cliArgs.indexOf("batch");
  const input = batch < 0 ? undefined : cliArgs[batch + 3];
  const out = cliOption("--out");
  check(`${what}: the input and --out lie on a mounted claim, --out writable`,
    onClaim(input, false) && onClaim(out, true), `input ${input}, --out ${out}`);
  const jobLabels = spec.template?.metadata?.labels;
  check(`${what}: no Service or PodDisruptionBudget of the server selects its pods`,
    of("Service").every((s) => !s.spec.selector || !matches(s.spec.selector, jobLabels)) &&
      of("PodDisruptionBudget").every((b) => !matches(b.spec.selector?.matchLabels, jobLabels)));
  check(`${what} asks for no GPU and requests CPU and memory`,
    jobContainers.every((c) => c.resources?.limits?.["nvidia.com/gpu"] === undefined &&
      c.resources?.requests?.cpu && c.resources?.requests?.memory));
  check(`${what}: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp`,
    jobPod.securityContext?.runAsNonRoot === true &&
      jobPod.securityContext?.seccompProfile?.type === "RuntimeDefault" &&
      jobContainers.every((c) => c.securityContext?.readOnlyRootFilesystem === true &&
        c.securityContext?.allowPrivilegeEscalation === false &&
        (c.securityContext?.capabilities?.drop ?? []).includes("ALL")));
}

console.log(`deploy ${name}: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
