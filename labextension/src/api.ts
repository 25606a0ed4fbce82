/**
 * Typed access to the Agnes REST API (agnes/v1). The types come from `apitypes.ts`, which
 * aliases the types `jlpm gen:api` generates from the OpenAPI document the server serves at
 * agnes/v1/openapi.json.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { Catalog, CatalogEntry, ErrorEnvelope, Version } from './apitypes';
import { API_NAMESPACE } from './tokens';

export type { Freshness } from './apitypes';

/** The error envelope every Agnes route uses. */
export type IErrorEnvelope = ErrorEnvelope;
/** GET version. */
export type IVersionInfo = Version;
/** One table of GET catalog. */
export type ICatalogEntry = CatalogEntry;
/** GET catalog. */
export type ICatalog = Catalog;

/** An API call failed; carries the server's envelope when there was one. */
export class AgnesApiError extends Error {
  constructor(
    readonly status: number,
    readonly envelope: IErrorEnvelope
  ) {
    super(envelope.message);
  }

  get code(): string {
    return this.envelope.error;
  }

  get hint(): string | null {
    return this.envelope.hint;
  }
}

function isEnvelope(value: unknown): value is IErrorEnvelope {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as IErrorEnvelope).error === 'string' &&
    typeof (value as IErrorEnvelope).message === 'string'
  );
}

/** Call an Agnes endpoint and decode its JSON body, or throw AgnesApiError. */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (reason) {
    throw new AgnesApiError(0, {
      error: 'network_error',
      message: `Could not reach the Jupyter server: ${String(reason)}`,
      hint: 'Check that JupyterLab is still running, then refresh.',
      details: {}
    });
  }
  const text = await response.text();
  let body: unknown = null;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    if (isEnvelope(body)) {
      throw new AgnesApiError(response.status, body);
    }
    throw new AgnesApiError(response.status, {
      error: response.status === 404 ? 'extension_missing' : 'http_error',
      message: `${response.status} ${response.statusText} from ${endPoint}`,
      hint: null,
      details: {}
    });
  }
  return body as T;
}

export function getVersion(): Promise<IVersionInfo> {
  return requestAPI<IVersionInfo>('version');
}

export function getCatalog(): Promise<ICatalog> {
  return requestAPI<ICatalog>('catalog');
}
