/**
 * What dockerd changes on the host's network and leaves behind when it stops:
 * IPv4 forwarding switched on, its iptables chains and rules (NAT for
 * docker0, isolation between its bridges), the docker0 bridge. For an engine
 * this script starts, `snapshotHostNetwork()` before and `restore()` after
 * the engine stopped put back what was there and remove only what is new.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { runCommand, succeeds } from './command.js';
import { SMOKE } from './settings.js';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const DEFAULT_BRIDGE = 'docker0';
const TABLES = ['filter', 'nat'] as const;
/** Chains dockerd creates; a rule that names one (or docker0) is dockerd's. */
const DOCKER_RULE = /DOCKER|docker0/;

export interface HostNetworkSnapshot {
  restore(): Promise<void>;
}

async function dockerRules(table: (typeof TABLES)[number]): Promise<{ rules: string[]; chains: string[] }> {
  try {
    const { stdout } = await runCommand('iptables', ['-t', table, '-S'], { timeoutMs: SMOKE.timeouts.dockerQueryMs });
    const lines = stdout.split('\n').filter((l) => DOCKER_RULE.test(l));
    return {
      rules: lines.filter((l) => l.startsWith('-A ')),
      chains: lines.filter((l) => l.startsWith('-N ')).map((l) => l.slice(3).trim()),
    };
  } catch {
    return { rules: [], chains: [] };
  }
}

export async function snapshotHostNetwork(): Promise<HostNetworkSnapshot> {
  const forward = existsSync(IP_FORWARD) ? readFileSync(IP_FORWARD, 'utf8').trim() : undefined;
  const hadBridge = existsSync(`/sys/class/net/${DEFAULT_BRIDGE}`);
  const before = new Map<string, { rules: Set<string>; chains: Set<string> }>();
  for (const table of TABLES) {
    const { rules, chains } = await dockerRules(table);
    before.set(table, { rules: new Set(rules), chains: new Set(chains) });
  }
  return {
    async restore() {
      for (const table of TABLES) {
        const was = before.get(table)!;
        const now = await dockerRules(table);
        for (const rule of now.rules.filter((r) => !was.rules.has(r))) {
          const args =
            rule
              .slice(3)
              .match(/"[^"]*"|\S+/g)
              ?.map((a) => a.replace(/^"|"$/g, '')) ?? [];
          await succeeds('iptables', ['-t', table, '-D', ...args], { timeoutMs: SMOKE.timeouts.dockerQueryMs });
        }
        for (const chain of now.chains.filter((c) => !was.chains.has(c))) {
          await succeeds('iptables', ['-t', table, '-X', chain], { timeoutMs: SMOKE.timeouts.dockerQueryMs });
        }
      }
      if (!hadBridge && existsSync(`/sys/class/net/${DEFAULT_BRIDGE}`)) {
        await succeeds('ip', ['link', 'delete', DEFAULT_BRIDGE], { timeoutMs: SMOKE.timeouts.dockerQueryMs });
      }
      if (forward !== undefined && readFileSync(IP_FORWARD, 'utf8').trim() !== forward)
        writeFileSync(IP_FORWARD, forward);
    },
  };
}
