/**
 * The deployment manifests agree with the server: probes hit the routes and ports the node serves,
 * Prometheus scrapes the metrics port, the grace period outlasts the drain, every variable set on
 * the gateway is one the node accepts and parses, and alerts/dashboard only query metrics the node
 * (or prom-client's defaults) exports. Renders k8s/ with `kubectl kustomize`; no cluster needed.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { collectDefaultMetrics, Registry } from "prom-client";
import { describe, it, expect } from "vitest";
import { parseAllDocuments } from "yaml";
import { acceptedEnv, loadConfig, settings, type Config } from "../../src/config/config.js";
import { createMetrics } from "../../src/metrics/metrics.js";

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
  env?: { name: string; value?: string; valueFrom?: unknown }[];
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
  clusterIP?: string;
  selector: Record<string, string>;
  ports: { name?: string; port: number; targetPort?: number | string }[];
}
interface ServiceMonitorSpec {
  selector: { matchLabels: Record<string, string> };
  endpoints: { port?: string; path?: string }[];
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
    expect(find(objects, "Service").some((s) => (s.spec as ServiceSpec).type === "LoadBalancer")).toBe(true);
    expect(find(objects, "StatefulSet").length).toBe(1);
  });

  it("sets only variables the node accepts, and they parse", () => {
    const { env, container } = gateway(render(dir));
    expect(Object.keys(env).length).toBeGreaterThan(0);
    for (const name of Object.keys(env)) expect(acceptedEnv, `env var ${name}`).toContain(name);
    for (const e of container.env ?? []) expect(acceptedEnv, `env var ${e.name}`).toContain(e.name);
    expect(() => loadConfig(env)).not.toThrow();
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

  it("exposes the ws port on a LoadBalancer, and keeps /metrics off it", () => {
    const objects = render(dir);
    const { spec, container, config } = gateway(objects);
    const lb = find(objects, "Service").filter((s) => (s.spec as ServiceSpec).type === "LoadBalancer");
    expect(lb).toHaveLength(1);
    const svc = lb[0]!.spec as ServiceSpec;
    expect(matches(svc.selector, spec.template.metadata.labels), "LB selects the gateway pods").toBe(true);
    const ws = svc.ports.find((p) => p.name === "ws");
    expect(ws, "LB port named ws").toBeDefined();
    expect(containerPort(container, ws!.targetPort ?? ws!.port)).toBe(config.port);
    for (const p of svc.ports) expect(containerPort(container, p.targetPort ?? p.port)).not.toBe(config.metricsPort);
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
    const expected = Array.from({ length: replicas }, (_, i) => `nats://${sts.metadata.name}-${i}.${stsSpec.serviceName}:${clientPort}`);
    expect([...config.natsServers].sort()).toEqual(expected);
    expect(config.streamReplicas).toBeLessThanOrEqual(replicas);
    const conf = Object.entries(find(objects, "ConfigMap").find((c) => c.data?.["nats.conf"])?.data ?? {})[0]?.[1] ?? "";
    expect(conf).toMatch(/^jetstream\s*\{/m);
    for (let i = 0; i < replicas; i++) expect(conf).toContain(`nats://${sts.metadata.name}-${i}.${stsSpec.serviceName}:`);
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
