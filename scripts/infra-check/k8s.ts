/**
 * infra/k8s against the code: ConfigMap and Secret keys are known variables;
 * each app's Deployment provides its required variables, probes /readyz and
 * /healthz on its port, and has a grace period longer than preStop + drain;
 * the media link port is on no Service and only gateway pods may reach it;
 * both ends of the link agree; the Ingress routes the two public paths.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ENV_FILE,
  MS_PER_SECOND,
  shutdownAfterDrainS,
  defaultPort,
  drainMsOf,
  isMissing,
  serviceOfCommand,
  type CheckContext,
} from './context.js';
import { list, sorted } from './report.js';
import type { ServiceConfig } from './services.js';
import { loadAllYaml } from './yaml.js';

/** Kubernetes' default terminationGracePeriodSeconds. */
const DEFAULT_GRACE_S = 30;
const NAME_LABEL = 'app.kubernetes.io/name';

type Labels = Record<string, string>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath?: string } };
}
interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
interface Container {
  command?: string[];
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  resources?: { requests?: unknown };
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] } } };
}
interface ServicePort {
  port?: number | string;
  targetPort?: number | string;
}
interface K8sDoc {
  kind: string;
  metadata: { name: string };
  resources?: string[];
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    selector?: Labels & { matchLabels?: Labels };
    template?: { spec: { containers: Container[]; terminationGracePeriodSeconds?: number } };
    ports?: ServicePort[];
    podSelector?: { matchLabels?: Labels };
    policyTypes?: string[];
    ingress?: Array<{
      from?: Array<{ ipBlock?: unknown; namespaceSelector?: unknown; podSelector?: { matchLabels?: Labels } }>;
      ports?: ServicePort[];
    }>;
    rules?: Array<{ http: { paths: Array<{ path: string; backend: { service: { name: string } } }> } }>;
    tls?: unknown[];
  };
}
interface Found {
  file: string;
  doc: K8sDoc;
}
interface LinkEnd {
  doc: K8sDoc;
  container: Container;
}

export function checkK8s(ctx: CheckContext): void {
  const { report, envNames } = ctx;
  const dir = join(ctx.root, 'infra/k8s');
  const docs: Found[] = [];
  for (const f of readdirSync(dir)
    .filter((x) => /\.ya?ml$/.test(x))
    .sort()) {
    for (const doc of loadAllYaml<K8sDoc | null>(readFileSync(join(dir, f), 'utf8')))
      if (doc) docs.push({ file: `infra/k8s/${f}`, doc });
  }
  const kinds = (k: string) => docs.filter((d) => d.doc.kind === k);
  const kust = docs.find((d) => d.doc.kind === 'Kustomization');
  for (const r of kust?.doc.resources ?? [])
    if (!existsSync(join(dir, r))) report.fail(`infra/k8s/kustomization.yaml lists ${r}, which does not exist`);
  const configMaps = new Map(kinds('ConfigMap').map((d) => [d.doc.metadata.name, d.doc.data ?? {}]));
  const configMapKeys = new Map([...configMaps].map(([name, data]) => [name, new Set(Object.keys(data))]));
  const secretKeys = new Map(
    kinds('Secret').map((d) => [d.doc.metadata.name, new Set(Object.keys({ ...d.doc.data, ...d.doc.stringData }))]),
  );
  for (const [name, keys] of [...configMapKeys, ...secretKeys]) {
    const bad = sorted(keys).filter((k) => !envNames.has(k));
    if (bad.length) report.fail(`infra/k8s ${name} holds variables not in ${ENV_FILE}: ${bad.join(', ')}`);
    if (keys.has('INSTANCE_ID')) report.fail(`infra/k8s ${name} sets INSTANCE_ID: replicas would share it`);
  }
  if (configMapKeys.size && secretKeys.size) {
    report.ok(
      `infra/k8s ConfigMap (${list([...configMapKeys.values()][0]!)}) / Secret (${list([...secretKeys.values()][0]!)}) keys are all in ${ENV_FILE}`,
    );
  } else report.fail('infra/k8s needs a ConfigMap and a Secret (template) for the environment');

  const svcObjects = kinds('Service');
  const k8sApps = new Set<string>();
  const k8sLinkEnds = new Map<string, LinkEnd>();
  for (const { file, doc } of [...kinds('Deployment'), ...kinds('Job')]) {
    const pod = doc.spec!.template!.spec;
    for (const c of pod.containers) {
      const where = `${file} ${doc.kind}/${doc.metadata.name}`;
      const failuresBefore = report.failures;
      const envKeys = new Set((c.env ?? []).map((e) => e.name));
      const bad = sorted(envKeys).filter((k) => !envNames.has(k));
      if (bad.length) report.fail(`${where} sets variables not in ${ENV_FILE}: ${bad.join(', ')}`);
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !secretKeys.get(ref.name)?.has(ref.key))
          report.fail(`${where} ${e.name} refers to secret ${ref.name}/${ref.key}, not in the Secret template`);
      }
      if (!c.resources?.requests) report.fail(`${where} has no resource requests`);
      const svc = serviceOfCommand(ctx, c.command);
      if (!svc) {
        const command = c.command ?? [];
        if (report.failures === failuresBefore && /packages\/db\/dist\/cli\.js/.test(command.join(' ')))
          report.ok(`${where}: runs the db cli (${command.slice(2).join(' ')})`);
        continue;
      }
      if (isMissing(svc)) {
        report.fail(`${where} runs apps/${svc.missing}, which has no src/config.ts`);
        continue;
      }
      k8sApps.add(svc.name);
      checkAppContainer(ctx, { where, doc, c, svc, pod, configMaps, configMapKeys, secretKeys, svcObjects, envKeys });
      if (ctx.linkEnds.includes(svc)) k8sLinkEnds.set(svc.name, { doc, container: c });
      if (report.failures === failuresBefore) {
        const grace = pod.terminationGracePeriodSeconds ?? DEFAULT_GRACE_S;
        report.ok(
          `${where}: ${svc.name} on ${defaultPort(svc)}, probes /readyz + /healthz, grace ${grace} s > ${graceNeeded(svc, c, configValues(c, configMaps))} s, required ${list(svc.required) || 'none'} provided`,
        );
      }
    }
  }
  for (const s of ctx.services)
    if (!k8sApps.has(s.name)) report.fail(`infra/k8s has no Deployment running apps/${s.name}`);
  checkK8sMediaLink(ctx, k8sLinkEnds, svcObjects, kinds('NetworkPolicy'));
  checkIngress(ctx, kinds('Ingress')[0]?.doc);
}

function envValue(c: Container, key: string): string | undefined {
  return (c.env ?? []).find((e) => e.name === key)?.value;
}

function configValues(c: Container, configMaps: Map<string, Record<string, string>>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const src of c.envFrom ?? []) if (src.configMapRef) Object.assign(values, configMaps.get(src.configMapRef.name));
  return values;
}

function graceNeeded(svc: ServiceConfig, c: Container, mapValues: Record<string, string>): number {
  const preStop = c.lifecycle?.preStop?.exec?.command ?? [];
  const preStopS = preStop[0] === 'sleep' ? Number(preStop[1]) : 0;
  const drainS = drainMsOf(svc, envValue(c, 'DRAIN_TIMEOUT_MS') ?? mapValues.DRAIN_TIMEOUT_MS) / MS_PER_SECOND;
  return preStopS + drainS + shutdownAfterDrainS(svc);
}

function checkAppContainer(
  ctx: CheckContext,
  a: {
    where: string;
    doc: K8sDoc;
    c: Container;
    svc: ServiceConfig;
    pod: { terminationGracePeriodSeconds?: number };
    configMaps: Map<string, Record<string, string>>;
    configMapKeys: Map<string, Set<string>>;
    secretKeys: Map<string, Set<string>>;
    svcObjects: Found[];
    envKeys: Set<string>;
  },
): void {
  const { report } = ctx;
  const { where, doc, c, svc, envKeys } = a;
  if (envKeys.has('INSTANCE_ID')) report.fail(`${where} sets INSTANCE_ID: replicas would share it`);
  const fromMaps = new Set<string>();
  for (const src of c.envFrom ?? []) {
    if (src.configMapRef) for (const k of a.configMapKeys.get(src.configMapRef.name) ?? []) fromMaps.add(k);
    if (src.secretRef) for (const k of a.secretKeys.get(src.secretRef.name) ?? []) fromMaps.add(k);
  }
  const mapValues = configValues(c, a.configMaps);
  const missingRequired = sorted(svc.required).filter((k) => !envKeys.has(k) && !fromMaps.has(k));
  if (missingRequired.length) report.fail(`${where} does not provide required ${missingRequired.join(', ')}`);
  const port = defaultPort(svc);
  const portValue = svc.portKey ? envValue(c, svc.portKey) : undefined;
  if (String(portValue ?? port) !== String(port)) report.fail(`${where} ${svc.portKey}=${portValue}, expected ${port}`);
  const portNames = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
  const resolvePort = (p: string | number | undefined) => (typeof p === 'string' ? (portNames.get(p) ?? p) : p);
  const probe = (p: Probe | undefined, path: string) =>
    p?.httpGet?.path === path && resolvePort(p.httpGet.port) === port;
  if (port === undefined || ![...portNames.values()].includes(port))
    report.fail(`${where} has no containerPort ${port}`);
  if (!probe(c.readinessProbe, '/readyz')) report.fail(`${where} readinessProbe must GET /readyz on ${port}`);
  if (!probe(c.livenessProbe, '/healthz')) report.fail(`${where} livenessProbe must GET /healthz on ${port}`);
  const need = graceNeeded(svc, c, mapValues);
  const grace = a.pod.terminationGracePeriodSeconds ?? DEFAULT_GRACE_S;
  if (!(grace > need))
    report.fail(
      `${where} terminationGracePeriodSeconds ${grace} must exceed preStop + DRAIN_TIMEOUT_MS + ${shutdownAfterDrainS(svc)} s (${need} s)`,
    );
  if (svc === ctx.linkListener && ctx.linkPort) {
    const linkValue = Number(envValue(c, 'MEDIA_LINK_PORT') ?? mapValues.MEDIA_LINK_PORT ?? ctx.linkPort);
    if (![...portNames.values()].includes(linkValue))
      report.fail(`${where} has no containerPort ${linkValue} for the media link (MEDIA_LINK_PORT)`);
    const hostEnv = (c.env ?? []).find((e) => e.name === 'MEDIA_LINK_HOST');
    if (hostEnv?.valueFrom?.fieldRef?.fieldPath !== 'status.podIP') {
      report.fail(
        `${where} MEDIA_LINK_HOST must come from the pod IP (valueFrom.fieldRef.fieldPath: status.podIP): gateways dial the address each bridge publishes`,
      );
    }
  }
  const appName = doc.spec?.selector?.matchLabels?.[NAME_LABEL];
  const exposed = a.svcObjects.find((s) => s.doc.spec?.selector?.[NAME_LABEL] === appName);
  const exposedPort = exposed?.doc.spec?.ports?.[0];
  if (!exposed || resolvePort(exposedPort?.targetPort) !== port)
    report.fail(`${where} has no Service reaching port ${port}`);
}

/**
 * The media link in Kubernetes: gateways dial bridge pod IPs (from the
 * registry), so no Service fronts the link port, and a NetworkPolicy lets
 * only gateway pods reach it.
 */
function checkK8sMediaLink(
  ctx: CheckContext,
  k8sLinkEnds: Map<string, LinkEnd>,
  svcObjects: Found[],
  policiesFound: Found[],
): void {
  const { report, linkListener, linkPort, linkShared } = ctx;
  const listener = linkListener && k8sLinkEnds.get(linkListener.name);
  const dialers = [...k8sLinkEnds].filter(([name]) => name !== linkListener?.name);
  const nameOf = (end: LinkEnd) => end.doc.spec?.selector?.matchLabels?.[NAME_LABEL];
  if (listener && linkPort) {
    const bridgeName = nameOf(listener);
    const linkPortNames = new Set(
      (listener.container.ports ?? [])
        .filter((p) => p.containerPort === linkPort)
        .flatMap((p) => (p.name ? [p.name] : [])),
    );
    const isLinkPort = (port: string | number | undefined) =>
      port === linkPort || (typeof port === 'string' && linkPortNames.has(port));
    const fronting = svcObjects.filter(
      (s) =>
        s.doc.spec?.selector?.[NAME_LABEL] === bridgeName &&
        (s.doc.spec?.ports ?? []).some((p) => isLinkPort(p.targetPort ?? p.port)),
    );
    if (fronting.length) {
      report.fail(
        `infra/k8s Service ${fronting.map((s) => s.doc.metadata.name).join(', ')} exposes the media link port ${linkPort}: gateways dial pod IPs from the registry; keep the port off Services`,
      );
    }
    const gatewayNames = new Set(dialers.map(([, end]) => nameOf(end)));
    const policies = policiesFound.filter(
      (d) =>
        d.doc.spec?.podSelector?.matchLabels?.[NAME_LABEL] === bridgeName &&
        (d.doc.spec?.policyTypes ?? ['Ingress']).includes('Ingress'),
    );
    const admitting = policies
      .flatMap((d) => d.doc.spec?.ingress ?? [])
      .filter((r) => !r.ports || r.ports.some((p) => isLinkPort(p.port)));
    const onlyGateways = (r: (typeof admitting)[number]) =>
      Array.isArray(r.from) &&
      r.from.length > 0 &&
      r.from.every(
        (f) => !f.ipBlock && !f.namespaceSelector && gatewayNames.has(f.podSelector?.matchLabels?.[NAME_LABEL]),
      );
    const gateways = [...gatewayNames].join(', ');
    if (!policies.length)
      report.fail(
        `infra/k8s: no NetworkPolicy selects the ${bridgeName} pods, so every pod in the cluster can reach the media link port ${linkPort}`,
      );
    else if (!admitting.length)
      report.fail(
        `infra/k8s NetworkPolicy for ${bridgeName} admits nobody to the media link port ${linkPort}: gateways could not dial the bridges`,
      );
    else if (!admitting.every(onlyGateways))
      report.fail(
        `infra/k8s NetworkPolicy for ${bridgeName} admits more than the gateway pods (${gateways}) to the media link port ${linkPort}`,
      );
    else if (!fronting.length) {
      report.ok(
        `infra/k8s media link: ${bridgeName} port ${linkPort} on no Service, NetworkPolicy ${policies.map((d) => d.doc.metadata.name).join(', ')} admits only ${gateways} pods`,
      );
    }
  }
  if (listener && dialers.length) {
    const entryOf = (end: LinkEnd, k: string) => {
      const e = (end.container.env ?? []).find((x) => x.name === k);
      return e && JSON.stringify({ value: e.value, valueFrom: e.valueFrom });
    };
    const ends = [listener, ...dialers.map(([, end]) => end)];
    const differ = linkShared.filter((k) => {
      const values = ends.map((end) => entryOf(end, k));
      return values.every((v) => v !== undefined) && new Set(values).size > 1;
    });
    const names = [...k8sLinkEnds.keys()].join(' and ');
    if (differ.length)
      report.fail(
        `infra/k8s: ${differ.join(', ')} differ between ${names}; both ends of the media link need one value`,
      );
    else {
      report.ok(
        `infra/k8s: ${names} agree on the variables both ends of the media link read (MEDIA_LINK_SECRET from ${entryOf(listener, 'MEDIA_LINK_SECRET') ? 'the same secret key' : 'envFrom'})`,
      );
    }
  }
}

function checkIngress(ctx: CheckContext, ingress: K8sDoc | undefined): void {
  const paths = (ingress?.spec?.rules ?? []).flatMap((r) =>
    r.http.paths.map((p) => [p.path, p.backend.service.name] as const),
  );
  const routes = new Map(paths);
  const mediaPath = ctx.mediaPath;
  if (routes.get(mediaPath) === 'media-gateway' && routes.get('/twilio') === 'webhook' && ingress?.spec?.tls?.length) {
    ctx.report.ok(`infra/k8s Ingress: TLS, ${mediaPath} -> media-gateway, /twilio -> webhook`);
  } else
    ctx.report.fail(
      `infra/k8s Ingress must terminate TLS and route ${mediaPath} -> media-gateway, /twilio -> webhook (has ${JSON.stringify(paths)})`,
    );
}
