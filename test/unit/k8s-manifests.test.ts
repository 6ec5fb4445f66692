/**
 * The deployment manifests agree with the server: probes hit the routes and ports the node serves,
 * Prometheus scrapes the metrics port, the grace period outlasts the drain, every variable set on
 * the gateway is one the node accepts and parses, and alerts/dashboard only query metrics the node
 * (or prom-client's defaults) exports. Renders k8s/ with `kubectl kustomize`; no cluster needed.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { collectDefaultMetrics, Registry } from "prom-client";
import { describe, it, expect } from "vitest";
import { parseAllDocuments } from "yaml";
import { renderAuthorization } from "../../src/bus/nats-accounts.js";
import { DEFAULT_ROLES, PERMISSIONS } from "../../src/bus/permissions.js";
import { acceptedEnv, loadConfig, settings, type Config } from "../../src/config/config.js";
import { natsPins } from "../../src/dev/nats-binaries.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { checkConfig, haproxyVersion } from "../helpers/haproxy.js";
import { parseNatsConf, type ConfMap, type ConfValue } from "../helpers/nats-conf.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

// ---- the server's side of the contract ---------------------------------------------------------

const READY_PATH = "/readyz";
const HEALTH_PATH = "/healthz";
const METRICS_PATH = "/metrics";

/** Every metric the gateway exports, with its labels, read from the node's own registry. */
const gatewayRegistry = createMetrics({ defaultMetrics: false }).registry;
const gatewayJson = await gatewayRegistry.getMetricsAsJSON();
const GATEWAY_METRICS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  gatewayRegistry.getMetricsAsArray().map((m) => [m.name, (m as unknown as { labelNames: string[] }).labelNames]),
);
const GATEWAY_HISTOGRAMS = gatewayJson.filter((m) => String(m.type) === "histogram").map((m) => m.name);
/** Auth outcomes the node reports (every one is initialised at zero). */
const AUTH_OUTCOMES = (gatewayJson.find((m) => m.name === "smsws_auth_total")?.values ?? []).map((v) => String(v.labels.outcome));
/** Labels Prometheus attaches to every scraped series (target labels). */
const TARGET_LABELS = ["namespace", "pod", "job", "instance", "service", "container", "endpoint", "le"];

async function defaultMetricNames(): Promise<string[]> {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const metrics = await register.getMetricsAsJSON();
  // At run time `type` is the string "counter" | "gauge" | "histogram" | "summary" (the typings
  // declare a numeric enum).
  return metrics.flatMap((m) =>
    ["histogram", "summary"].includes(String(m.type))
      ? [m.name, `${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`]
      : [m.name],
  );
}

async function allowedMetricNames(): Promise<Set<string>> {
  const names = new Set<string>(["up", ...Object.keys(GATEWAY_METRICS), ...(await defaultMetricNames())]);
  for (const h of GATEWAY_HISTOGRAMS) for (const s of ["_bucket", "_sum", "_count"]) names.add(h + s);
  return names;
}

// ---- minimal shapes of what we read ------------------------------------------------------------

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: unknown;
  data?: Record<string, string>;
}
interface ContainerPort {
  name?: string;
  containerPort: number;
}
interface HttpProbe {
  httpGet?: { path?: string; port: number | string };
}
interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: unknown } }[];
  args?: string[];
  volumeMounts?: { name: string; mountPath: string }[];
  envFrom?: { prefix?: string; configMapRef?: { name: string; optional?: boolean }; secretRef?: { name: string } }[];
  readinessProbe?: HttpProbe;
  livenessProbe?: HttpProbe;
  startupProbe?: HttpProbe;
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds: number } } };
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] }; configMap?: { name: string } }[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  topologySpreadConstraints?: unknown[];
}
interface WorkloadSpec {
  replicas?: number;
  serviceName?: string;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}
interface ServiceSpec {
  type?: string;
  externalTrafficPolicy?: string;
  clusterIP?: string;
  selector: Record<string, string>;
  ports: { name?: string; port: number; targetPort?: number | string }[];
}
interface ServiceMonitorSpec {
  selector: { matchLabels: Record<string, string> };
  endpoints: { port?: string; path?: string }[];
}
interface IngressSpec {
  tls?: { hosts?: string[]; secretName?: string }[];
  rules: { http?: { paths: { backend: { service?: { name: string; port: { name?: string; number?: number } } } }[] } }[];
}
interface Selector {
  matchLabels?: Record<string, string>;
}
interface NetPolPeer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: { cidr: string };
}
interface NetPolRule {
  from?: NetPolPeer[];
  to?: NetPolPeer[];
  ports?: { port?: number | string; protocol?: string }[];
}
interface NetworkPolicySpec {
  podSelector: Selector;
  policyTypes?: string[];
  ingress?: NetPolRule[];
  egress?: NetPolRule[];
}
interface PrometheusRuleSpec {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

// ---- rendering ---------------------------------------------------------------------------------

const rendered = new Map<string, K8sObject[]>();

function render(dir: string): K8sObject[] {
  const cached = rendered.get(dir);
  if (cached) return cached;
  let out: string;
  try {
    out = execFileSync("kubectl", ["kustomize", dir], { cwd: repoRoot, encoding: "utf8", stdio: "pipe" });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") {
      throw new Error(
        "kubectl is not installed or not on PATH. This test renders the manifests with " +
          "`kubectl kustomize` (kubectl >= 1.27, kustomize v5); install kubectl to run it.",
      );
    }
    throw new Error(`kubectl kustomize ${dir} failed:\n${e.stderr ?? e.message}`);
  }
  const docs = parseAllDocuments(out).map((d) => {
    if (d.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: bad YAML: ${d.errors[0]?.message}`);
    return d.toJS() as K8sObject | null;
  });
  const objects = docs.filter((o): o is K8sObject => o !== null);
  rendered.set(dir, objects);
  return objects;
}

function find(objects: K8sObject[], kind: string, name?: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = find(objects, kind, name);
  expect(found, `exactly one ${kind}${name ? ` ${name}` : ""}`).toHaveLength(1);
  return found[0]!;
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

// ---- the gateway as deployed -------------------------------------------------------------------

/** Variables read by Node itself, not by the gateway's config. */
const RUNTIME_ENV = ["NODE_EXTRA_CA_CERTS"];

interface Gateway {
  deployment: K8sObject;
  spec: WorkloadSpec;
  container: Container;
  /** Variables the container gets: envFrom ConfigMaps, then env (which wins). */
  env: Record<string, string>;
  config: Config;
}

function gateway(objects: K8sObject[]): Gateway {
  const deployment = only(objects, "Deployment", "sms-ws-gateway");
  const spec = deployment.spec as WorkloadSpec;
  const container = spec.template.spec.containers.find((c) => c.name === "gateway");
  expect(container, "container 'gateway' in Deployment sms-ws-gateway").toBeDefined();
  const env: Record<string, string> = {};
  for (const source of container!.envFrom ?? []) {
    if (!source.configMapRef) continue; // Secrets are not rendered; their names are checked by the node.
    const cm = find(objects, "ConfigMap", source.configMapRef.name)[0];
    if (!cm) {
      expect(source.configMapRef.optional, `ConfigMap ${source.configMapRef.name} is rendered`).toBe(true);
      continue;
    }
    for (const [k, v] of Object.entries(cm.data ?? {})) env[(source.prefix ?? "") + k] = String(v);
  }
  for (const e of container!.env ?? []) env[e.name] = e.value ?? "";
  return { deployment, spec, container: container!, env, config: loadConfig(env) };
}

function containerPort(container: Container, port: number | string | undefined): number | undefined {
  if (typeof port === "number") return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function preStopMs(container: Container): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds * 1000;
  const command = (preStop?.exec?.command ?? []).join(" ");
  const m = /(?:^|[\s/])sleep\s+(\d+(?:\.\d+)?)\b/.exec(command);
  expect(m, `preStop is a sleep (got ${JSON.stringify(preStop)})`).not.toBeNull();
  return Number(m![1]) * 1000;
}


// ---- the bus as deployed -----------------------------------------------------------------------

/** Files of the ConfigMap that carries nats.conf. */
function natsConfigMap(objects: K8sObject[]): Record<string, string> {
  const cm = find(objects, "ConfigMap").find((c) => c.data?.["nats.conf"] !== undefined);
  expect(cm, "a ConfigMap with nats.conf").toBeDefined();
  return cm!.data!;
}

/** nats.conf parsed, with its included files' top-level keys merged in. */
function natsConf(objects: K8sObject[]): ConfMap {
  const files = natsConfigMap(objects);
  const main = parseNatsConf(files["nats.conf"]!);
  const merged: ConfMap = { ...main };
  for (const inc of (main.$include ?? []) as string[]) {
    const text = files[inc.replace(/^\.\//, "").replace(/^"|"$/g, "")];
    expect(text, `included file ${inc} is in the same ConfigMap`).toBeDefined();
    Object.assign(merged, parseNatsConf(text!));
  }
  return merged;
}

const strings = (v: ConfValue | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
const mapOf = (v: ConfValue | undefined): ConfMap => (v !== undefined && typeof v === "object" && !Array.isArray(v) ? v : {});

function natsStatefulSet(objects: K8sObject[]): { spec: WorkloadSpec; container: Container } {
  const spec = only(objects, "StatefulSet").spec as WorkloadSpec;
  const container = spec.template.spec.containers.find((c) => c.name === "nats");
  expect(container, "container nats").toBeDefined();
  return { spec, container: container! };
}

function secretRef(container: Container, name: string): { name: string; key: string } | undefined {
  return container.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
}

/** The directory a file path is mounted from, and the Secret behind it. */
function secretMountOf(pod: PodSpec, container: Container, path: string): { secretName: string; keys?: string[] } | undefined {
  const mount = (container.volumeMounts ?? []).find((m) => path.startsWith(`${m.mountPath.replace(/\/$/, "")}/`));
  const volume = pod.volumes?.find((v) => v.name === mount?.name);
  if (volume?.secret === undefined) return undefined;
  return { secretName: volume.secret.secretName, ...(volume.secret.items ? { keys: volume.secret.items.map((i) => i.key) } : {}) };
}

/** The way clients reach the gateway: an Ingress to its Service, or a LoadBalancer Service. */
function publicEntry(objects: K8sObject[]): { service: K8sObject; ingress?: K8sObject } {
  const ingresses = find(objects, "Ingress");
  if (ingresses.length > 0) {
    expect(ingresses).toHaveLength(1);
    const backends = (ingresses[0]!.spec as IngressSpec).rules.flatMap((r) => r.http?.paths ?? []).map((p) => p.backend.service);
    expect(backends.length).toBeGreaterThan(0);
    for (const b of backends) expect(b?.port.name ?? String(b?.port.number)).toBe("ws");
    return { service: throughLoadBalancer(objects, only(objects, "Service", backends[0]!.name)), ingress: ingresses[0]! };
  }
  const lb = find(objects, "Service").filter((x) => (x.spec as ServiceSpec).type === "LoadBalancer");
  expect(lb).toHaveLength(1);
  return { service: lb[0]! };
}

/** The affinity load balancer's haproxy.cfg (production overlay), if rendered. */
function haproxyCfg(objects: K8sObject[]): string | undefined {
  return find(objects, "ConfigMap").map((c) => c.data?.["haproxy.cfg"]).find((cfg) => cfg !== undefined);
}

/**
 * A Service in front of the tenant-affinity load balancer (HAProxy) stands for the Service its
 * `server-template` resolves (the gateway pods); any other Service stands for itself.
 */
function throughLoadBalancer(objects: K8sObject[], service: K8sObject): K8sObject {
  const cfg = haproxyCfg(objects);
  const selector = (service.spec as ServiceSpec).selector;
  const lb = find(objects, "Deployment").find((d) => {
    const pod = (d.spec as WorkloadSpec).template;
    return matches(selector, pod.metadata.labels) && (pod.spec.volumes ?? []).some((v) => v.configMap?.name.startsWith("sms-ws-lb-config"));
  });
  if (cfg === undefined || lb === undefined) return service;
  const target = /^\s*server-template\s+\S+\s+\d+\s+_ws\._tcp\.([a-z0-9-]+)\./m.exec(cfg)?.[1];
  expect(target, "haproxy.cfg: server-template over a Service's _ws._tcp SRV records").toBeDefined();
  return only(objects, "Service", target);
}

/** Ingress (or egress) rules of the policies that select these pods and name this port. */
function rulesFor(objects: K8sObject[], podLabels: Record<string, string>, container: Container, port: string, dir: "ingress" | "egress"): NetPolRule[] {
  const number = containerPort(container, port);
  return find(objects, "NetworkPolicy")
    .map((np) => np.spec as NetworkPolicySpec)
    .filter((np) => matches(np.podSelector.matchLabels ?? {}, podLabels))
    .flatMap((np) => np[dir] ?? [])
    .filter((r) => (r.ports ?? []).some((p) => p.port === port || p.port === number));
}

function isolated(objects: K8sObject[], podLabels: Record<string, string>, dir: "Ingress" | "Egress"): boolean {
  return find(objects, "NetworkPolicy")
    .map((np) => np.spec as NetworkPolicySpec)
    .some((np) => matches(np.podSelector.matchLabels ?? {}, podLabels) && (np.policyTypes ?? ["Ingress"]).includes(dir));
}

const setOf = (xs: readonly string[]) => [...new Set(xs)].sort();

// ---- PromQL: which metric names and label matchers an expression uses --------------------------

const PROMQL_KEYWORDS = new Set([
  "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool", "atan2",
  "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
  "limitk", "limit_ratio", "inf", "nan",
]);

/** Metric names an expression selects, each with the label names used in its {matchers}. */
function promqlSelectors(expr: string): { metric: string; labels: string[]; matchers: string }[] {
  // Keep {matchers} intact (their values are checked), drop strings elsewhere (function arguments).
  const matcherBlocks: string[] = [];
  const s = expr
    .replace(/\{[^}]*\}/g, (block) => `{${matcherBlocks.push(block) - 1}}`)
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\[[^\]]*\]/g, " ") // range and subquery durations
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // label lists
    .replace(/\{(\d+)\}/g, (_, i: string) => matcherBlocks[Number(i)]!);
  const out: { metric: string; labels: string[]; matchers: string }[] = [];
  const token = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?|\{[^}]*\}|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g;
  for (const m of s.matchAll(token)) {
    const [, ident, braces, call] = m;
    if (!ident) continue; // number or bare {selector}
    if (call && !braces) continue; // function or aggregation call
    if (PROMQL_KEYWORDS.has(ident.toLowerCase())) continue;
    const labels = [...(braces ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!);
    out.push({ metric: ident, labels, matchers: braces ?? "" });
  }
  return out;
}

function checkQuery(expr: string, allowed: Set<string>, where: string): void {
  const selectors = promqlSelectors(expr);
  expect(selectors.length, `${where}: selects at least one metric`).toBeGreaterThan(0);
  for (const { metric, labels, matchers } of selectors) {
    expect(allowed.has(metric), `${where}: unknown metric ${metric} in ${expr}`).toBe(true);
    const base = metric.replace(/_(bucket|sum|count)$/, "");
    const own = GATEWAY_METRICS[metric] ?? (GATEWAY_HISTOGRAMS.includes(base) ? GATEWAY_METRICS[base] : undefined);
    if (own === undefined) continue;
    for (const l of labels) {
      expect([...own, ...TARGET_LABELS], `${where}: ${metric} has no label ${l}`).toContain(l);
    }
    if (metric === "smsws_auth_total") {
      for (const v of matchers.matchAll(/outcome\s*(?:=|!=)\s*"([^"]*)"/g)) {
        expect(AUTH_OUTCOMES, `${where}: auth outcome ${v[1]}`).toContain(v[1]);
      }
    }
  }
}

interface DashboardPanel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: DashboardPanel[];
}

function dashboardQueries(panels: DashboardPanel[]): { title: string; expr: string }[] {
  return panels.flatMap((p) => [
    ...(p.targets ?? []).flatMap((t) => (t.expr ? [{ title: p.title ?? "?", expr: t.expr }] : [])),
    ...dashboardQueries(p.panels ?? []),
  ]);
}

// ---- tests -------------------------------------------------------------------------------------

describe("promqlSelectors", () => {
  it("finds metric names and matchers, not functions, keywords, label lists or durations", () => {
    const sel = promqlSelectors(
      'sum by (namespace, le) (rate(a_bucket{x="y", z!~"w"}[5m])) / ignoring (reason) group_left b > 1e-9 ' +
        'and on (pod) c == 0 or time() - d or label_replace(e, "dst", "$1", "src", "(not_a_metric)")',
    );
    expect(sel.map((s) => s.metric)).toEqual(["a_bucket", "b", "c", "d", "e"]);
    expect(sel[0]!.labels).toEqual(["x", "z"]);
    expect(sel[0]!.matchers).toBe('{x="y", z!~"w"}');
  });
});

describe.each(["k8s/overlays/production", "k8s"])("kubectl kustomize %s", (dir) => {
  it("renders the gateway, its Services, PDB, HPA, monitoring and a NATS cluster", () => {
    const objects = render(dir);
    for (const kind of ["Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceMonitor", "PrometheusRule"]) {
      expect(find(objects, kind).length, kind).toBeGreaterThan(0);
    }
    const lb = find(objects, "Service").some((s) => (s.spec as ServiceSpec).type === "LoadBalancer");
    expect(lb || find(objects, "Ingress").length > 0, "a LoadBalancer Service or an Ingress").toBe(true);
    expect(find(objects, "StatefulSet").length).toBe(1);
  });

  it("sets only variables the node accepts, and they parse", () => {
    const { env, container } = gateway(render(dir));
    expect(Object.keys(env).length).toBeGreaterThan(0);
    for (const name of Object.keys(env)) expect([...acceptedEnv, ...RUNTIME_ENV], `env var ${name}`).toContain(name);
    for (const e of container.env ?? []) expect([...acceptedEnv, ...RUNTIME_ENV], `env var ${e.name}`).toContain(e.name);
    expect(() => loadConfig(env)).not.toThrow();
    // The provision Job runs with the same ConfigMap and its own variables.
    const job = only(render(dir), "Job", "sms-ws-provision").spec as { template: { spec: PodSpec } };
    for (const c of job.template.spec.containers) {
      for (const e of c.env ?? []) expect([...acceptedEnv, ...RUNTIME_ENV], `Job env var ${e.name}`).toContain(e.name);
    }
  });

  it("probes /readyz and /healthz on the node's PORT", () => {
    const { container, env, config } = gateway(render(dir));
    const port = Number(env.PORT ?? settings.port.default);
    expect(config.port).toBe(port);
    expect(container.readinessProbe?.httpGet?.path).toBe(READY_PATH);
    expect(containerPort(container, container.readinessProbe?.httpGet?.port)).toBe(port);
    expect(container.livenessProbe?.httpGet?.path).toBe(HEALTH_PATH);
    expect(containerPort(container, container.livenessProbe?.httpGet?.port)).toBe(port);
    if (container.startupProbe !== undefined) {
      expect(container.startupProbe.httpGet?.path).toBe(HEALTH_PATH);
      expect(containerPort(container, container.startupProbe.httpGet?.port)).toBe(port);
    }
    expect(container.ports?.find((p) => p.name === "ws")?.containerPort).toBe(port);
  });

  it("exposes the ws port publicly (a LoadBalancer, or a TLS Ingress), and keeps /metrics off it", () => {
    const objects = render(dir);
    const { spec, container, config } = gateway(objects);
    const entry = publicEntry(objects);
    const svc = entry.service.spec as ServiceSpec;
    expect(matches(svc.selector, spec.template.metadata.labels), "the public Service selects the gateway pods").toBe(true);
    const ws = svc.ports.find((p) => p.name === "ws");
    expect(ws, "Service port named ws").toBeDefined();
    expect(containerPort(container, ws!.targetPort ?? ws!.port)).toBe(config.port);
    for (const p of svc.ports) expect(containerPort(container, p.targetPort ?? p.port)).not.toBe(config.metricsPort);
    if (entry.ingress) {
      expect(svc.type ?? "ClusterIP", "behind an Ingress the gateway has no load balancer of its own").toBe("ClusterIP");
      const ing = entry.ingress.spec as IngressSpec;
      expect(ing.tls?.length ?? 0, "the Ingress terminates TLS (wss://)").toBeGreaterThan(0);
      expect(Number(entry.ingress.metadata.annotations?.["nginx.ingress.kubernetes.io/proxy-read-timeout"])).toBeGreaterThan(
        config.pingIntervalMs / 1000,
      );
    }
  });

  it("scrapes /metrics on METRICS_PORT through the ServiceMonitor", () => {
    const objects = render(dir);
    const { spec, container, env, config } = gateway(objects);
    const metricsPort = Number(env.METRICS_PORT ?? settings.metricsPort.default);
    expect(config.metricsPort).toBe(metricsPort);
    const sm = only(objects, "ServiceMonitor").spec as ServiceMonitorSpec;
    const services = find(objects, "Service").filter((s) => matches(sm.selector.matchLabels, s.metadata.labels));
    expect(services, "ServiceMonitor selects exactly one Service").toHaveLength(1);
    const svc = services[0]!.spec as ServiceSpec;
    expect(matches(svc.selector, spec.template.metadata.labels), "metrics Service selects the gateway pods").toBe(true);
    expect(sm.endpoints.length).toBeGreaterThan(0);
    for (const ep of sm.endpoints) {
      expect(ep.path).toBe(METRICS_PATH);
      const port = svc.ports.find((p) => p.name === ep.port);
      expect(port, `Service port named ${ep.port}`).toBeDefined();
      expect(containerPort(container, port!.targetPort ?? port!.port)).toBe(metricsPort);
    }
  });

  it("gives the drain time to finish: grace period > preStop + SHUTDOWN_TIMEOUT_MS > drain", () => {
    const { spec, container, env } = gateway(render(dir));
    const ms = (name: string, key: keyof typeof settings) => Number(env[name] ?? settings[key].default);
    const shutdown = ms("SHUTDOWN_TIMEOUT_MS", "shutdownTimeoutMs");
    const delay = ms("DRAIN_DELAY_MS", "drainDelayMs");
    const window = ms("DRAIN_WINDOW_MS", "drainWindowMs");
    expect(shutdown).toBeGreaterThan(delay + window);
    const grace = spec.template.spec.terminationGracePeriodSeconds ?? 30;
    expect(grace * 1000).toBeGreaterThan(preStopMs(container) + shutdown);
  });

  it("runs the gateway non-root, read-only, without capabilities, spread over the topology", () => {
    const { spec, container } = gateway(render(dir));
    const pod = spec.template.spec;
    expect(pod.securityContext?.runAsNonRoot ?? container.securityContext?.runAsNonRoot).toBe(true);
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(container.securityContext?.capabilities?.drop).toContain("ALL");
    expect(pod.topologySpreadConstraints?.length ?? 0).toBeGreaterThan(0);
  });

  it("points the PodDisruptionBudget and the autoscaler at the gateway", () => {
    const objects = render(dir);
    const { deployment, spec } = gateway(objects);
    const pdbs = find(objects, "PodDisruptionBudget").map((p) => p.spec as { selector: { matchLabels: Record<string, string> } });
    expect(pdbs.some((p) => matches(p.selector.matchLabels, spec.template.metadata.labels))).toBe(true);
    const hpa = only(objects, "HorizontalPodAutoscaler");
    expect(hpa.apiVersion).toBe("autoscaling/v2");
    const hpaSpec = hpa.spec as { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number };
    expect(hpaSpec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: deployment.metadata.name });
    expect(hpaSpec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpaSpec.maxReplicas).toBeGreaterThanOrEqual(hpaSpec.minReplicas);
  });

  it("connects the gateway to every pod of the NATS StatefulSet, with JetStream replicas it can hold", () => {
    const objects = render(dir);
    const { config } = gateway(objects);
    const sts = only(objects, "StatefulSet");
    const stsSpec = sts.spec as WorkloadSpec;
    const replicas = stsSpec.replicas ?? 1;
    const headless = only(objects, "Service", stsSpec.serviceName).spec as ServiceSpec;
    expect(headless.clusterIP).toBe("None");
    const clientPort = headless.ports.find((p) => p.name === "client")?.port;
    const expected = Array.from({ length: replicas }, (_, i) => `tls://${sts.metadata.name}-${i}.${stsSpec.serviceName}:${clientPort}`);
    expect([...config.natsServers].sort()).toEqual(expected);
    expect(config.streamReplicas).toBeLessThanOrEqual(replicas);
    const conf = natsConfigMap(objects)["nats.conf"] ?? "";
    expect(conf).toMatch(/^jetstream\s*\{/m);
    for (let i = 0; i < replicas; i++) expect(conf).toContain(`nats://${sts.metadata.name}-${i}.${stsSpec.serviceName}:`);
  });

  it("configures exactly the NATS accounts, users and permissions of src/bus/permissions.ts, and no anonymous user", () => {
    const conf = natsConf(render(dir));
    expect(conf.no_auth_user, "no no_auth_user").toBeUndefined();
    expect(conf.authorization, "users live in accounts, not in a global authorization block").toBeUndefined();
    const accounts = mapOf(conf.accounts);
    const users = Object.values(accounts).flatMap((a) => (mapOf(a).users ?? []) as ConfMap[]);
    expect(users.map((u) => String(u.user)).sort()).toEqual(DEFAULT_ROLES.map((r) => PERMISSIONS[r].user).sort());
    for (const role of DEFAULT_ROLES) {
      const want = PERMISSIONS[role];
      const user = users.find((u) => u.user === want.user)!;
      expect((mapOf(accounts[want.account]).users as ConfMap[]).includes(user), `${role} in account ${want.account}`).toBe(true);
      expect(user.password, `${role}: password from $${want.passwordEnv}`).toBe(`$${want.passwordEnv}`);
      const perms = mapOf(user.permissions);
      expect(Object.keys(perms).sort(), `${role}: only publish and subscribe rules (no allow_responses)`).toEqual(["publish", "subscribe"]);
      for (const kind of ["publish", "subscribe"] as const) {
        for (const list of ["allow", "deny"] as const) {
          expect(setOf(strings(mapOf(perms[kind])[list])), `${role} ${kind} ${list}`).toEqual(setOf(want[kind][list].map((g) => g.subject)));
        }
      }
    }
    // Exports and imports exactly as rendered from the matrix (src/bus/nats-accounts.ts).
    const rendered = mapOf(parseNatsConf(renderAuthorization()).accounts);
    for (const name of Object.keys(rendered)) {
      for (const key of ["exports", "imports", "jetstream"]) {
        expect(mapOf(accounts[name])[key], `${name} ${key}`).toEqual(mapOf(rendered[name])[key]);
      }
    }
  });

  it("requires TLS on the client port and mutual TLS on the cluster routes, with certificates from a Secret", () => {
    const objects = render(dir);
    const conf = natsConf(objects);
    const { spec, container } = natsStatefulSet(objects);
    const certificates = find(objects, "Certificate").map((c) => c.spec as { secretName: string; dnsNames?: string[]; usages?: string[] });
    for (const [where, tls] of [["client", mapOf(conf.tls)], ["cluster", mapOf(mapOf(conf.cluster).tls)]] as const) {
      for (const file of ["cert_file", "key_file", "ca_file"]) {
        const path = String(tls[file] ?? "");
        expect(path, `${where} tls ${file}`).not.toBe("");
        const secret = secretMountOf(spec.template.spec, container, path);
        expect(secret, `${where} ${file} ${path} is mounted from a Secret`).toBeDefined();
        const cert = certificates.find((c) => c.secretName === secret!.secretName);
        expect(cert, `a cert-manager Certificate writes Secret ${secret!.secretName}`).toBeDefined();
      }
    }
    expect(String(mapOf(mapOf(conf.cluster).tls).verify)).toBe("true");
    // Every host the gateway dials is in the server certificate.
    const { config } = gateway(objects);
    const serverCert = certificates.find((c) => c.usages?.includes("server auth"));
    for (const url of config.natsServers) {
      expect(url.startsWith("tls://"), `${url} uses TLS`).toBe(true);
      expect(serverCert?.dnsNames).toContain(new URL(url).hostname);
    }
    // And the gateway trusts the CA, without being given the server's key.
    const g = gateway(objects);
    const ca = g.container.env?.find((e) => e.name === "NODE_EXTRA_CA_CERTS")?.value ?? "";
    const caSecret = secretMountOf(g.spec.template.spec, g.container, ca);
    expect(caSecret?.keys, "gateway mounts only ca.crt").toEqual(["ca.crt"]);
  });

  it("gives the gateway its NATS credentials from a Secret, the same the NATS servers check", () => {
    const objects = render(dir);
    const { container, env } = gateway(objects);
    for (const name of ["NATS_PASSWORD", "NATS_TOKEN"]) {
      const fromConfigMap = find(objects, "ConfigMap").some((c) => c.data?.[name] !== undefined);
      expect(fromConfigMap, `${name} is not in a ConfigMap`).toBe(false);
    }
    expect(env.NATS_TOKEN ?? "").toBe("");
    const user = secretRef(container, "NATS_USER");
    const password = secretRef(container, "NATS_PASSWORD");
    expect(user, "NATS_USER from a Secret").toBeDefined();
    expect(password, "NATS_PASSWORD from a Secret").toBeDefined();
    const nats = natsStatefulSet(objects).container;
    for (const role of DEFAULT_ROLES) expect(secretRef(nats, PERMISSIONS[role].passwordEnv), `NATS gets ${role}'s password`).toBeDefined();
    expect(secretRef(nats, PERMISSIONS.gateway.passwordEnv)).toEqual(password);
    // The provision Job runs `provision` as admin.
    const job = only(objects, "Job", "sms-ws-provision").spec as { template: { spec: PodSpec } };
    const provision = job.template.spec.containers[0]!;
    expect(provision.args?.slice(-1)).toEqual(["provision"]);
    expect(secretRef(provision, "NATS_PASSWORD")).toEqual(secretRef(nats, PERMISSIONS.admin.passwordEnv));
  });

  it("gives every gateway pod the fleet signing key from its own Secret, never from a ConfigMap (docs/operations-fleet.md)", () => {
    const objects = render(dir);
    expect(find(objects, "ConfigMap").some((c) => c.data?.FLEET_SIGNING_KEY !== undefined), "FLEET_SIGNING_KEY is not in a ConfigMap").toBe(false);
    const pods = find(objects, "Deployment").filter((d) => (d.spec as WorkloadSpec).template.spec.containers.some((c) => c.name === "gateway"));
    expect(pods.length).toBeGreaterThan(0);
    for (const d of pods) {
      const container = (d.spec as WorkloadSpec).template.spec.containers.find((c) => c.name === "gateway")!;
      expect(secretRef(container, "FLEET_SIGNING_KEY"), `${d.metadata.name} signs the fleet plane`).toEqual({ name: "sms-ws-fleet-key", key: "signing-key" });
      expect(secretRef(container, "FLEET_SIGNING_KEY")).not.toEqual(secretRef(container, "NATS_PASSWORD"));
    }
  });

  it("has NetworkPolicies for gateway <-> NATS, NATS routes, Prometheus -> metrics and clients -> ws", () => {
    const objects = render(dir);
    const g = gateway(objects);
    const gatewayPods = g.spec.template.metadata.labels;
    const n = natsStatefulSet(objects);
    const natsPods = n.spec.template.metadata.labels;
    expect(isolated(objects, natsPods, "Ingress")).toBe(true);
    expect(isolated(objects, gatewayPods, "Ingress")).toBe(true);
    expect(isolated(objects, gatewayPods, "Egress")).toBe(true);

    const client = rulesFor(objects, natsPods, n.container, "client", "ingress").flatMap((r) => r.from ?? []);
    expect(client.length).toBeGreaterThan(0);
    expect(client.some((p) => p.ipBlock !== undefined || (p.podSelector === undefined && p.namespaceSelector === undefined))).toBe(false);
    expect(client.some((p) => p.namespaceSelector === undefined && matches(p.podSelector?.matchLabels ?? {}, gatewayPods))).toBe(true);
    const routes = rulesFor(objects, natsPods, n.container, "cluster", "ingress").flatMap((r) => r.from ?? []);
    expect(routes.length).toBeGreaterThan(0);
    for (const p of routes) {
      expect(p.namespaceSelector ?? p.ipBlock, "routes only from pods of this namespace").toBeUndefined();
      expect(matches(p.podSelector?.matchLabels ?? { none: "x" }, natsPods), "routes only from NATS pods").toBe(true);
    }
    expect(rulesFor(objects, natsPods, n.container, "monitor", "ingress")).toEqual([]);

    const metrics = rulesFor(objects, gatewayPods, g.container, "metrics", "ingress").flatMap((r) => r.from ?? []);
    expect(metrics.length).toBeGreaterThan(0);
    for (const p of metrics) expect(p.ipBlock, "metrics never from an address block").toBeUndefined();
    expect(rulesFor(objects, gatewayPods, g.container, "ws", "ingress").length).toBeGreaterThan(0);

    const egress = find(objects, "NetworkPolicy")
      .map((np) => np.spec as NetworkPolicySpec)
      .filter((np) => matches(np.podSelector.matchLabels ?? {}, gatewayPods))
      .flatMap((np) => np.egress ?? []);
    for (const r of egress) {
      const toNats = (r.to ?? []).every((p) => matches(p.podSelector?.matchLabels ?? { none: "x" }, natsPods));
      const dns = (r.ports ?? []).every((p) => p.port === 53);
      expect(toNats || dns, `gateway egress only to NATS or DNS: ${JSON.stringify(r)}`).toBe(true);
    }
  });

  it("preserves client addresses: externalTrafficPolicy Local, or a trusted proxy header only the ingress can set", () => {
    const objects = render(dir);
    const g = gateway(objects);
    const entry = publicEntry(objects);
    if (entry.ingress === undefined) {
      expect((entry.service.spec as ServiceSpec).externalTrafficPolicy).toBe("Local");
      expect(g.config.trustedProxyHeader, "no forwarded header trusted without a proxy").toBe("");
    } else {
      expect(g.config.trustedProxyHeader).toBe("x-forwarded-for");
      const ws = rulesFor(objects, g.spec.template.metadata.labels, g.container, "ws", "ingress").flatMap((r) => r.from ?? []);
      expect(ws.length).toBeGreaterThan(0);
      for (const p of ws) expect(p.namespaceSelector, "ws only from the ingress controller's namespace").toBeDefined();
    }
    expect(g.env.METRICS_HOST, "METRICS_HOST set explicitly").toBe("0.0.0.0");
  });

  it("runs the nats-server pinned in versions.json, a release with the published advisories fixed", () => {
    const image = natsStatefulSet(render(dir)).container.image ?? "";
    const m = /^nats:(\d+)\.(\d+)\.(\d+)(-alpine)?$/.exec(image);
    expect(m, `pinned nats image, got ${image}`).not.toBeNull();
    // One pin for k8s/, the tests, the fault suite, the bench and .ci/run (src/dev/nats-binaries.ts).
    expect(`v${m![1]}.${m![2]}.${m![3]}`, "k8s/base nats image tag vs versions.json").toBe(natsPins()?.natsServer);
    const [major, minor, patch] = [Number(m![1]), Number(m![2]), Number(m![3])];
    expect(major).toBe(2);
    // 2.12.12 / 2.14.3: fixed in every NATS advisory to 2026-26; 2.11 and older are not.
    expect(minor > 12 ? minor !== 13 && (minor > 14 || patch >= 3) : minor === 12 && patch >= 12).toBe(true);
  });

  it("alerts only on metrics the node exports", async () => {
    const allowed = await allowedMetricNames();
    const rules = find(render(dir), "PrometheusRule").flatMap((r) => (r.spec as PrometheusRuleSpec).groups.flatMap((g) => g.rules));
    const alerts = rules.map((r) => r.alert).filter(Boolean);
    for (const required of [
      "SmsWsNatsDisconnected",
      "SmsWsNotReady",
      "SmsWsAuthFailureSpike",
      "SmsWsSlowConsumerCloses",
      "SmsWsEventsRejected",
      "SmsWsNoEventsDelivered",
    ]) {
      expect(alerts).toContain(required);
    }
    for (const r of rules) checkQuery(r.expr, allowed, `rule ${r.alert ?? r.record}`);
  });

  it("ships a Grafana dashboard whose queries use only metrics the node exports", async () => {
    const allowed = await allowedMetricNames();
    const dashboards = find(render(dir), "ConfigMap").filter((c) => c.metadata.labels?.grafana_dashboard === "1");
    expect(dashboards).toHaveLength(1);
    const files = Object.entries(dashboards[0]!.data ?? {});
    expect(files.length).toBeGreaterThan(0);
    for (const [file, text] of files) {
      const dashboard = JSON.parse(text) as { uid?: string; panels: DashboardPanel[] };
      expect(dashboard.uid, `${file} has a stable uid`).toBeTruthy();
      const queries = dashboardQueries(dashboard.panels);
      expect(queries.length).toBeGreaterThan(0);
      for (const q of queries) checkQuery(q.expr, allowed, `${file} panel "${q.title}"`);
      // Every metric the node exports has a panel (histograms by their _bucket series).
      const used = new Set(queries.flatMap((q) => promqlSelectors(q.expr).map((s) => s.metric.replace(/_(bucket|sum|count)$/, ""))));
      for (const metric of Object.keys(GATEWAY_METRICS)) expect(used.has(metric), `${file}: no panel for ${metric}`).toBe(true);
    }
  });
});

describe("production overlay", () => {
  it("replicates the stream on the 3-node NATS cluster and restricts origins", () => {
    const { config } = gateway(render("k8s/overlays/production"));
    expect(config.streamReplicas).toBe(3);
    expect(config.allowedOrigins).not.toContain("*");
  });
});

describe("production overlay: tenant affinity and pools (docs/scaling.md)", () => {
  const dir = "k8s/overlays/production";

  it("hashes ?tenant= onto the app pool with bounded load, checking /readyz, with a slot per possible pod", () => {
    const objects = render(dir);
    const cfg = haproxyCfg(objects) ?? "";
    for (const line of ["balance url_param tenant", "hash-balance-factor 125", "option httpchk", "http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host sms-ws-gateway", "http-check expect status 200"]) {
      expect(cfg, `haproxy.cfg: ${line}`).toMatch(new RegExp(`^\\s*${line}\\s*$`, "m"));
    }
    expect(cfg).toMatch(/^\s*hash-type consistent\b/m);
    const { spec, config } = gateway(objects);
    const headless = throughLoadBalancer(objects, only(objects, "Service", "sms-ws-lb"));
    const svc = headless.spec as ServiceSpec;
    expect(svc.clusterIP, "SRV records per pod need a headless Service").toBe("None");
    expect(matches(svc.selector, spec.template.metadata.labels)).toBe(true);
    expect(containerPort(gateway(objects).container, svc.ports.find((p) => p.name === "ws")?.targetPort)).toBe(config.port);
    const slots = Number(/^\s*server-template\s+\S+\s+(\d+)/m.exec(cfg)?.[1]);
    const hpa = only(objects, "HorizontalPodAutoscaler").spec as { maxReplicas: number };
    expect(slots, "server-template slots >= HPA maxReplicas").toBeGreaterThanOrEqual(hpa.maxReplicas);
    expect(config.allowedRoles, "the app pool refuses admin credentials").toBe("app");
  });

  it("haproxy.cfg parses with a real HAProxy (`haproxy -c`), the version nearest the image's", () => {
    const objects = render(dir);
    const cfg = haproxyCfg(objects)!;
    const image = (only(objects, "Deployment", "sms-ws-lb").spec as WorkloadSpec).template.spec.containers[0]!.image;
    // The image pins 3.0; the test runs Debian's HAProxy (2.6 on bookworm): the config must use
    // only keywords both know. A 3.0-only keyword fails here with HAProxy's own message.
    expect(image).toMatch(/^haproxy:3\.0\.\d+/);
    const version = /HAProxy version (\d+)\.(\d+)/.exec(haproxyVersion());
    expect(Number(version?.[1]) * 100 + Number(version?.[2]), haproxyVersion()).toBeGreaterThanOrEqual(206);
    const tmp = mkdtempSync(join(tmpdir(), "haproxy-cfg-"));
    try {
      writeFileSync(join(tmp, "haproxy.cfg"), cfg);
      const { valid, output } = checkConfig(join(tmp, "haproxy.cfg"));
      expect(valid, `haproxy -c on the production haproxy.cfg:\n${output}`).toBe(true);
      expect(output, "no warnings either").not.toMatch(/\[(WARNING|ALERT)\]/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("limits each client address before it finishes a request, and leaves the ingress controllers untracked", () => {
    const objects = render(dir);
    const cfg = haproxyCfg(objects)!;
    const lines = ["timeout http-request 5s", "tcp-request connection track-sc0 src unless from_ingress"];
    for (const line of lines) expect(cfg, `haproxy.cfg: ${line}`).toMatch(new RegExp(`^\\s*${line}\\s*$`, "m"));
    expect(cfg).toMatch(/^\s*stick-table type ipv6 .*store conn_cur,conn_rate\(10s\)\s*$/m);
    expect(cfg).toMatch(/^\s*tcp-request connection reject if \{ sc_conn_rate\(0\) gt \d+ \} \|\| \{ sc_conn_cur\(0\) gt \d+ \}\s*$/m);
    // No fixed maxconn: HAProxy refuses to start when RLIMIT_NOFILE cannot hold 2 x maxconn.
    expect(cfg).not.toMatch(/^\s*maxconn\b/m);
    // The untracked range is the one the gateway trusts as its proxies (the pod range).
    const untracked = /^\s*acl from_ingress src (.+)$/m.exec(cfg)?.[1]?.trim().split(/\s+/);
    expect(untracked).toEqual(gateway(objects).env.TRUSTED_PROXIES?.split(","));
  });

  it("serves admin credentials from their own pool: same container, ALLOWED_ROLES=admin, its own host, NATS access", () => {
    const objects = render(dir);
    const app = gateway(objects);
    const admin = only(objects, "Deployment", "sms-ws-gateway-admin").spec as WorkloadSpec;
    const container = admin.template.spec.containers.find((c) => c.name === "gateway")!;
    const env: Record<string, string> = { ...app.env };
    for (const e of container.env ?? []) env[e.name] = e.value ?? "";
    for (const name of Object.keys(env)) expect([...acceptedEnv, ...RUNTIME_ENV], `admin env var ${name}`).toContain(name);
    expect(loadConfig(env).allowedRoles).toBe("admin");
    expect(container.envFrom).toEqual(app.container.envFrom);
    for (const field of ["image", "ports", "readinessProbe", "livenessProbe", "startupProbe", "lifecycle", "securityContext", "volumeMounts"] as const) {
      expect(container[field], `admin container ${field} as the app pool's`).toEqual(app.container[field]);
    }
    expect(admin.template.spec.terminationGracePeriodSeconds).toBe(app.spec.template.spec.terminationGracePeriodSeconds);
    // Pools do not overlap: neither selector matches the other's pods.
    expect(matches(admin.selector.matchLabels, app.spec.template.metadata.labels)).toBe(false);
    expect(matches(app.spec.selector.matchLabels, admin.template.metadata.labels)).toBe(false);
    const ingress = only(objects, "Ingress").spec as IngressSpec;
    const services = ingress.rules.flatMap((r) => r.http?.paths ?? []).map((p) => only(objects, "Service", p.backend.service!.name));
    expect(services.some((s) => matches((s.spec as ServiceSpec).selector, admin.template.metadata.labels)), "an Ingress rule reaches the admin pool").toBe(true);
    const n = natsStatefulSet(objects);
    const natsClients = rulesFor(objects, n.spec.template.metadata.labels, n.container, "client", "ingress").flatMap((r) => r.from ?? []);
    expect(natsClients.some((p) => p.namespaceSelector === undefined && matches(p.podSelector?.matchLabels ?? {}, admin.template.metadata.labels))).toBe(true);
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(resolve(repoRoot, "Dockerfile"), "utf8");
  const lastStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

  it("starts the server with `serve` under an init, as a non-root user", () => {
    expect(lastStage).toMatch(/^CMD \["node", "dist\/cli\/main\.js", "serve"\]$/m);
    expect(lastStage).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
    const user = /^USER (\S+)$/m.exec(lastStage)?.[1];
    expect(user, "USER in the final stage").toBeDefined();
    expect(["root", "0", "0:0"]).not.toContain(user);
    expect(lastStage).toMatch(/npm ci --omit=dev|COPY --from=\S+ \/app\/node_modules/);
  });

  it("exposes the default PORT and METRICS_PORT", () => {
    const exposed = (/^EXPOSE (.+)$/m.exec(lastStage)?.[1] ?? "").split(/\s+/);
    expect(exposed).toContain(settings.port.default);
    expect(exposed).toContain(settings.metricsPort.default);
  });
});
