/**
 * infra/nginx/nginx.conf against compose and the code: upstreams are the
 * compose services on the apps' ports; the media path is a WebSocket proxy
 * with the path untouched; the headers Twilio signs pass as sent.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultPort, type CheckContext } from './context.js';
import type { ComposeFile } from './compose.js';

export function checkNginxConf(ctx: CheckContext, compose: ComposeFile): void {
  const { report, byName, mediaPath } = ctx;
  const composeServices = compose.services ?? {};
  const conf = readFileSync(join(ctx.root, 'infra/nginx/nginx.conf'), 'utf8').replace(/#.*$/gm, '');
  for (const m of conf.matchAll(/^\s*server\s+([A-Za-z][\w.-]*):(\d+)/gm)) {
    const [, host, port] = m as unknown as [string, string, string];
    const svc = byName.get(host);
    if (!svc || !composeServices[host])
      report.fail(`nginx.conf upstream server ${host}:${port} is not a compose service running that app`);
    else if (String(defaultPort(svc)) !== port)
      report.fail(`nginx.conf upstream ${host}:${port}: ${host} listens on ${defaultPort(svc)}`);
    else report.ok(`nginx.conf upstream ${host}:${port} matches compose service and ${svc.portKey}`);
  }
  const blockOf = (location: string) => {
    const start = conf.indexOf(`location ${location} {`);
    return start < 0 ? undefined : conf.slice(start, conf.indexOf('}', start));
  };
  const need = (block: string, label: string, re: RegExp, what: string): boolean => {
    if (re.test(block)) return true;
    report.fail(`nginx.conf ${label}: ${what}`);
    return false;
  };
  const ws = blockOf(mediaPath);
  if (!ws) report.fail(`nginx.conf has no "location ${mediaPath}" (MEDIA_PATH in apps/media-gateway/src/config.ts)`);
  else {
    const all = [
      need(
        ws,
        mediaPath,
        /proxy_pass\s+http:\/\/[\w.-]+;/,
        'proxy_pass to an upstream with no URI (path passed untouched)',
      ),
      need(ws, mediaPath, /proxy_http_version\s+1\.1;/, 'proxy_http_version 1.1'),
      need(ws, mediaPath, /proxy_set_header\s+Upgrade\s+\$http_upgrade;/, 'Upgrade header'),
      need(ws, mediaPath, /proxy_set_header\s+Connection\s+\$connection_upgrade;/, 'Connection header'),
      need(ws, mediaPath, /proxy_read_timeout\s+3600s;/, 'proxy_read_timeout 3600s'),
    ];
    if (all.every(Boolean))
      report.ok(`nginx.conf location ${mediaPath}: WebSocket upgrade, HTTP/1.1, 3600 s read timeout, path untouched`);
  }
  const hook = blockOf('/twilio/');
  if (!hook) report.fail('nginx.conf has no "location /twilio/"');
  else if (
    need(
      hook,
      '/twilio/',
      /proxy_pass\s+http:\/\/[\w.-]+;/,
      'proxy_pass to an upstream with no URI (path passed untouched)',
    )
  ) {
    report.ok('nginx.conf location /twilio/: proxied to the webhook, path untouched');
  }
  if (/location\s+=\s+\/healthz\s*\{[^}]*return\s+200/.test(conf)) report.ok('nginx.conf answers /healthz itself');
  else report.fail('nginx.conf: no "location = /healthz" returning 200');
  if (/proxy_set_header\s+X-Twilio-Signature|proxy_pass_request_headers\s+off|underscores_in_headers/i.test(conf)) {
    report.fail('nginx.conf touches request headers Twilio signs with (X-Twilio-Signature must pass as sent)');
  }
}
