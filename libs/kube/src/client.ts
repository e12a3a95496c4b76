// A small Kubernetes API client for list + watch, on node:https. It reads the in-cluster service
// account (token re-read on each request: projected tokens rotate) or a kubeconfig with a token,
// a token file, a client certificate or basic auth; exec plugins and auth providers are not
// supported (a clear error says so). Not @kubernetes/client-node: importing it costs ~80 MB of
// resident memory (its generated models), a third of the enricher's budget at 20k pods; nor its
// informers, because Tollgate needs what they do not offer:
//   - metadata-only lists and watches (Accept: PartialObjectMetadata), so 15k ReplicaSets cost
//     their names and owner references, not their pod templates;
//   - plain JSON objects (no model classes), reduced by the caller as they arrive;
//   - errors that say what happened (status code, 410 Gone, connection refused), so the caller
//     decides between resume, relist and backoff; an informer stops for good after one error.
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseYaml } from 'yaml';

/** A resource type the client lists and watches. */
export interface ResourceType {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** Plural, as in the URL (pods, replicasets). */
  readonly plural: string;
  readonly kind: string;
  /** Ask for PartialObjectMetadata (names, labels, owners) instead of whole objects. */
  readonly metadataOnly?: boolean;
}

export const resourcePath = (r: ResourceType): string => (r.group ? `/apis/${r.group}/${r.version}/${r.plural}` : `/api/${r.version}/${r.plural}`);

/** The API answered with an error status (or a watch delivered an ERROR event). */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
  /** 410 Gone: the resourceVersion was compacted away; list again. */
  get gone(): boolean {
    return this.status === 410;
  }
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface ListPage {
  items: unknown[];
  resourceVersion: string;
  continue: string | undefined;
}

const JSON_ACCEPT = 'application/json';
const META_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const META_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export interface KubeClientOptions {
  /** A watch with no event (bookmarks included) for this long is aborted and resumed (default 90 s). */
  watchIdleMs?: number;
  /** Server-side watch timeout, seconds (default 300): the server ends the watch, the caller resumes. */
  watchTimeoutSeconds?: number;
  /** Per-request timeout for non-watch requests (default 30 s). */
  requestTimeoutMs?: number;
}

/** Where the API is and how to authenticate. */
export interface KubeConnection {
  server: string;
  /** PEM of the CA(s) to trust; default: the system's. */
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  insecureSkipTlsVerify?: boolean;
  /** A bearer token, or a function read on each request (a token file that rotates). */
  token?: string | (() => string);
  basic?: { username: string; password: string };
}

/** The kubeconfig user or cluster uses something this client does not support, or cannot be read. */
export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeconfigError';
  }
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

type Dict = Record<string, unknown>;

/** The connection of a kubeconfig file's current context (or `context`). */
export function loadKubeconfig(path: string, context?: string): KubeConnection {
  let doc: Dict;
  try {
    doc = parseYaml(readFileSync(path, 'utf8')) as Dict;
  } catch (err) {
    throw new KubeconfigError(`cannot read kubeconfig ${path}: ${(err as Error).message}`);
  }
  const named = (list: unknown, name: unknown, what: string): Dict => {
    const hit = (Array.isArray(list) ? (list as Dict[]) : []).find((x) => x.name === name);
    if (!hit) throw new KubeconfigError(`kubeconfig ${path}: no ${what} '${String(name)}'`);
    return (hit[what] ?? {}) as Dict;
  };
  const ctx = named(doc.contexts, context ?? doc['current-context'], 'context');
  const cluster = named(doc.clusters, ctx.cluster, 'cluster');
  const user = ctx.user === undefined ? {} : named(doc.users, ctx.user, 'user');
  const base = dirname(path);
  const file = (p: unknown) => readFileSync(isAbsolute(String(p)) ? String(p) : join(base, String(p)));
  const pem = (data: unknown, p: unknown) => (typeof data === 'string' ? Buffer.from(data, 'base64') : p ? file(p) : undefined);
  if (user.exec || user['auth-provider']) throw new KubeconfigError(`kubeconfig ${path}: user '${String(ctx.user)}' authenticates with ${user.exec ? 'an exec plugin' : 'an auth provider'}, which Tollgate does not run; use a token, a token file or a client certificate (in a cluster: the service account)`);
  if (typeof cluster.server !== 'string') throw new KubeconfigError(`kubeconfig ${path}: cluster '${String(ctx.cluster)}' has no server`);
  const tokenFile = user.tokenFile;
  return {
    server: cluster.server,
    ca: pem(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: pem(user['client-certificate-data'], user['client-certificate']),
    key: pem(user['client-key-data'], user['client-key']),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    token: typeof user.token === 'string' ? user.token : tokenFile ? () => file(tokenFile).toString('utf8').trim() : undefined,
    basic: typeof user.username === 'string' ? { username: user.username, password: String(user.password ?? '') } : undefined,
  };
}

/** The pod's service account: https://kubernetes.default.svc, its CA and its (rotating) token. Undefined outside a pod. */
export function inClusterConnection(dir = SA_DIR, server = 'https://kubernetes.default.svc'): KubeConnection | undefined {
  try {
    readFileSync(join(dir, 'token'));
  } catch {
    return undefined;
  }
  return { server, ca: readFileSync(join(dir, 'ca.crt')), token: () => readFileSync(join(dir, 'token'), 'utf8').trim() };
}

export class KubeClient {
  readonly server: string;
  private readonly url: URL;
  private readonly conn: KubeConnection;
  private readonly agent: Agent | undefined;
  private readonly opts: Required<KubeClientOptions>;

  constructor(conn: KubeConnection, opts: KubeClientOptions = {}) {
    this.conn = conn;
    this.server = conn.server.replace(/\/+$/, '');
    this.url = new URL(this.server);
    if (this.url.protocol !== 'https:' && this.url.protocol !== 'http:') throw new KubeconfigError(`server ${conn.server} is not an http(s) URL`);
    this.agent = this.url.protocol === 'https:' ? new Agent({ keepAlive: true, maxSockets: 32, ca: conn.ca, cert: conn.cert, key: conn.key, rejectUnauthorized: !conn.insecureSkipTlsVerify }) : undefined;
    this.opts = { watchIdleMs: opts.watchIdleMs ?? 90_000, watchTimeoutSeconds: opts.watchTimeoutSeconds ?? 300, requestTimeoutMs: opts.requestTimeoutMs ?? 30_000 };
  }

  /** `kubeconfig` if given; else the in-cluster service account; else ~/.kube/config. */
  static fromDefault(kubeconfig = '', opts?: KubeClientOptions): KubeClient {
    if (kubeconfig) return KubeClient.fromFile(kubeconfig, opts);
    const inCluster = inClusterConnection();
    if (inCluster) return new KubeClient(inCluster, opts);
    return KubeClient.fromFile(join(homedir(), '.kube', 'config'), opts);
  }

  static fromFile(path: string, opts?: KubeClientOptions): KubeClient {
    return new KubeClient(loadKubeconfig(path), opts);
  }

  private headers(accept: string, contentType?: string): Record<string, string> {
    const h: Record<string, string> = { Accept: accept, 'User-Agent': 'tollgate' };
    if (contentType) h['Content-Type'] = contentType;
    const t = typeof this.conn.token === 'function' ? this.conn.token() : this.conn.token;
    if (t) h.Authorization = `Bearer ${t}`;
    else if (this.conn.basic) h.Authorization = `Basic ${Buffer.from(`${this.conn.basic.username}:${this.conn.basic.password}`).toString('base64')}`;
    return h;
  }

  /** Sends a request; resolves with the response once its head arrived. */
  private send(method: string, path: string, accept: string, body?: string, contentType?: string, signal?: AbortSignal, timeoutMs?: number): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const o: RequestOptions = {
        method,
        protocol: this.url.protocol,
        hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
        port: this.url.port || undefined,
        path: (this.url.pathname.replace(/\/+$/, '') || '') + path,
        // Content-Length always: Node frames no body of a DELETE by default, and the server would
        // read the body as the next request on the kept-alive connection.
        headers: { ...this.headers(accept, body === undefined ? undefined : contentType), ...(body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }) },
        agent: this.agent,
        signal,
        timeout: timeoutMs,
      };
      const req = (this.url.protocol === 'https:' ? httpsRequest : httpRequest)(o, resolve);
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
      req.end(body);
    });
  }

  private async text(res: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  /** One JSON request; throws KubeApiError on a status >= 400. */
  async request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await this.send(method, path, JSON_ACCEPT, body === undefined ? undefined : JSON.stringify(body), contentType, undefined, this.opts.requestTimeoutMs);
    const text = await this.text(res);
    if ((res.statusCode ?? 0) >= 400) throw statusError(res.statusCode!, text, `${method} ${path}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** One page of a list. */
  async list(r: ResourceType, opts: { limit?: number; continue?: string } = {}): Promise<ListPage> {
    const q = new URLSearchParams();
    if (opts.limit) q.set('limit', String(opts.limit));
    if (opts.continue) q.set('continue', opts.continue);
    const res = await this.send('GET', `${resourcePath(r)}?${q}`, r.metadataOnly ? META_LIST_ACCEPT : JSON_ACCEPT, undefined, undefined, undefined, this.opts.requestTimeoutMs);
    const text = await this.text(res);
    if ((res.statusCode ?? 0) >= 400) throw statusError(res.statusCode!, text, `list ${r.plural}`);
    const doc = JSON.parse(text) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };
    return { items: doc.items ?? [], resourceVersion: doc.metadata?.resourceVersion ?? '', continue: doc.metadata?.continue || undefined };
  }

  /**
   * Watches from `resourceVersion` (bookmarks on) until the server ends the stream (resolves),
   * the stream breaks or stays idle (rejects), the server sends an ERROR event (rejects with its
   * status: 410 means list again) or `signal` aborts (resolves).
   */
  async watch(r: ResourceType, resourceVersion: string, onEvent: (type: WatchEventType, obj: Record<string, unknown>) => void, signal?: AbortSignal): Promise<void> {
    const q = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true', resourceVersion, timeoutSeconds: String(this.opts.watchTimeoutSeconds) });
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    let res: IncomingMessage | undefined;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        ctrl.abort();
      }, this.opts.watchIdleMs);
      timer.unref();
    };
    try {
      arm();
      res = await this.send('GET', `${resourcePath(r)}?${q}`, r.metadataOnly ? META_ACCEPT : JSON_ACCEPT, undefined, undefined, ctrl.signal);
      if ((res.statusCode ?? 0) >= 400) throw statusError(res.statusCode!, await this.text(res), `watch ${r.plural}`);
      let broken: unknown;
      res.on('error', (e) => (broken ??= e)); // a broken stream ends the lines; reported below
      res.on('aborted', () => (broken ??= new Error(`watch ${r.plural}: connection closed mid-stream`)));
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      for await (const line of lines) {
        if (!line) continue;
        arm();
        const ev = JSON.parse(line) as { type: string; object: Record<string, unknown> };
        if (ev.type === 'ERROR') {
          const st = ev.object as { code?: number; reason?: string; message?: string };
          throw new KubeApiError(st.code ?? 500, st.reason ?? '', `watch ${r.plural}: ${st.message ?? 'ERROR event'}`);
        }
        onEvent(ev.type as WatchEventType, ev.object);
      }
      if (idle) throw new Error(`watch ${r.plural}: no event for ${this.opts.watchIdleMs} ms`);
      if (broken !== undefined && !signal?.aborted) throw broken;
    } catch (err) {
      if (signal?.aborted) return;
      if (idle) throw new Error(`watch ${r.plural}: no event for ${this.opts.watchIdleMs} ms`);
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      res?.destroy(); // release the connection (a no-op when the server ended the stream)
    }
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent?.destroy();
  }
}

function statusError(status: number, body: string, what: string): KubeApiError {
  let reason = '';
  let message = body.slice(0, 300);
  try {
    const st = JSON.parse(body) as { reason?: string; message?: string };
    reason = st.reason ?? '';
    message = st.message ?? message;
  } catch {
    // not a Status object
  }
  return new KubeApiError(status, reason, `${what}: ${status} ${reason}: ${message}`);
}

/** Errors worth retrying: network failures, timeouts, 429, 5xx, and 401/403 (an apiserver that is starting serves 403 until its RBAC cache syncs; a bad identity keeps failing and the caller's deadline reports it). */
export function isRetryable(err: unknown): boolean {
  if (err instanceof KubeApiError) return err.status === 401 || err.status === 403 || err.status === 408 || err.status === 429 || err.status >= 500;
  return true;
}
