/** The OpenAPI document the server serves, read once per page: the console's field limits. */
import { requestAPI } from '../api';

let pending: Promise<unknown> | null = null;

export function openApiDocument(): Promise<unknown> {
  if (!pending) {
    pending = requestAPI<unknown>('openapi.json').catch(reason => {
      pending = null; // ask again next time
      throw reason;
    });
  }
  return pending;
}
