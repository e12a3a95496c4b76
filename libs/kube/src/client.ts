// A small Kubernetes API client for list + watch: authentication and TLS come from
// @kubernetes/client-node's KubeConfig (in-cluster service account, KUBECONFIG, token files,
// exec plugins), requests go through undici with the dispatcher it builds. Own requests rather
// than client-node's informers because Tollgate needs what they do not offer:
//   - metadata-only lists and watches (Accept: PartialObjectMetadata), so 15k ReplicaSets cost
//     their names and owner references, not their pod templates;
//   - plain JSON objects (no model classes), reduced by the caller as they arrive;
//   - errors that say what happened (status code, 410 Gone, connection refused), so the caller
//     decides between resume, relist and backoff; an informer stops for good after one error.
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { fetch, type Dispatcher } from 'undici';

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

export class KubeClient {
  readonly config: KubeConfig;
  readonly server: string;
  private readonly opts: Required<KubeClientOptions>;

  constructor(config: KubeConfig, opts: KubeClientOptions = {}) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.config = config;
    this.server = cluster.server.replace(/\/+$/, '');
    this.opts = { watchIdleMs: opts.watchIdleMs ?? 90_000, watchTimeoutSeconds: opts.watchTimeoutSeconds ?? 300, requestTimeoutMs: opts.requestTimeoutMs ?? 30_000 };
  }

  /** In-cluster service account when running in a pod, else KUBECONFIG or ~/.kube/config. */
  static fromDefault(opts?: KubeClientOptions): KubeClient {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return new KubeClient(kc, opts);
  }

  static fromFile(path: string, opts?: KubeClientOptions): KubeClient {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    return new KubeClient(kc, opts);
  }

  private async prepare(url: string, method: HttpMethod): Promise<{ headers: Record<string, string>; dispatcher: Dispatcher | undefined }> {
    const ctx = new RequestContext(url, method);
    await this.config.applySecurityAuthentication(ctx);
    return { headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher() as Dispatcher | undefined };
  }

  /** One JSON request; throws KubeApiError on a status >= 400. */
  async request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const url = this.server + path;
    const { headers, dispatcher } = await this.prepare(url, method as HttpMethod);
    const res = await fetch(url, {
      method,
      headers: { ...headers, Accept: JSON_ACCEPT, ...(body === undefined ? {} : { 'Content-Type': contentType }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher,
      signal: AbortSignal.timeout(this.opts.requestTimeoutMs),
    });
    const text = await res.text();
    if (res.status >= 400) throw statusError(res.status, text, `${method} ${path}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** One page of a list. */
  async list(r: ResourceType, opts: { limit?: number; continue?: string } = {}): Promise<ListPage> {
    const q = new URLSearchParams();
    if (opts.limit) q.set('limit', String(opts.limit));
    if (opts.continue) q.set('continue', opts.continue);
    const path = `${resourcePath(r)}?${q}`;
    const url = this.server + path;
    const { headers, dispatcher } = await this.prepare(url, HttpMethod.GET);
    const res = await fetch(url, { headers: { ...headers, Accept: r.metadataOnly ? META_LIST_ACCEPT : JSON_ACCEPT }, dispatcher, signal: AbortSignal.timeout(this.opts.requestTimeoutMs) });
    const text = await res.text();
    if (res.status >= 400) throw statusError(res.status, text, `list ${r.plural}`);
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
    const path = `${resourcePath(r)}?${q}`;
    const url = this.server + path;
    const { headers, dispatcher } = await this.prepare(url, HttpMethod.GET);
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    let body: Readable | undefined;
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
      const res = await fetch(url, { headers: { ...headers, Accept: r.metadataOnly ? META_ACCEPT : JSON_ACCEPT }, dispatcher, signal: ctrl.signal });
      if (res.status >= 400) throw statusError(res.status, await res.text(), `watch ${r.plural}`);
      if (!res.body) return;
      body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
      let broken: unknown;
      body.on('error', (e) => (broken ??= e)); // a broken stream ends the lines; reported below
      const lines = createInterface({ input: body, crlfDelay: Infinity });
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
      if (broken !== undefined && !ctrl.signal.aborted) throw broken;
      if (idle) throw new Error(`watch ${r.plural}: no event for ${this.opts.watchIdleMs} ms`);
    } catch (err) {
      if (signal?.aborted) return;
      if (idle) throw new Error(`watch ${r.plural}: no event for ${this.opts.watchIdleMs} ms`);
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // Release the connection: destroying the stream cancels the response body (its error
      // handler above swallows the cancellation).
      body?.destroy();
    }
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
