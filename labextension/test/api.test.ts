import { ServerConnection } from '@jupyterlab/services';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { AgnesApiError, getCatalog, requestAPI } from '../src/api';

const settings = ServerConnection.makeSettings({ baseUrl: 'http://localhost:8888/lab%20base/' });

function respond(body: string | null, status: number, statusText = ''): Response {
  return new Response(body, {
    status,
    statusText,
    headers: body === null ? {} : { 'Content-Type': 'application/json' }
  });
}

function mockRequest(result: Response | Error) {
  return vi
    .spyOn(ServerConnection, 'makeRequest')
    .mockImplementation(() =>
      result instanceof Error ? Promise.reject(result) : Promise.resolve(result)
    );
}

/** The AgnesApiError a call rejects with (fails the test when it resolves or throws another). */
async function apiError(call: Promise<unknown>): Promise<AgnesApiError> {
  const error = await call.then(
    value => {
      throw new Error(`expected AgnesApiError, got ${JSON.stringify(value)}`);
    },
    (reason: unknown) => reason
  );
  expect(error).toBeInstanceOf(AgnesApiError);
  return error as AgnesApiError;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('requestAPI', () => {
  it('calls the agnes/v1 route under the server base URL and decodes the JSON body', async () => {
    const makeRequest = mockRequest(respond('{"tables": [], "count": 0}', 200));
    const init = { method: 'GET' };

    await expect(requestAPI('catalog?search=x', init, settings)).resolves.toEqual({
      tables: [],
      count: 0
    });

    expect(makeRequest).toHaveBeenCalledTimes(1);
    expect(makeRequest).toHaveBeenCalledWith(
      'http://localhost:8888/lab%20base/agnes/v1/catalog?search=x',
      init,
      settings
    );
  });

  it('resolves null for an empty body (204)', async () => {
    mockRequest(respond(null, 204));
    await expect(requestAPI('stack/tables/t1', { method: 'DELETE' }, settings)).resolves.toBeNull();
  });

  it("throws the server's error envelope with its code, hint and status", async () => {
    const envelope = {
      error: 'forbidden',
      message: 'You may not read shop.orders.',
      hint: 'Ask an Agnes admin for a grant.',
      details: { table: 'shop.orders' }
    };
    mockRequest(respond(JSON.stringify(envelope), 403, 'Forbidden'));

    const error = await apiError(requestAPI('tables/shop.orders/schema', {}, settings));

    expect(error.status).toBe(403);
    expect(error.code).toBe('forbidden');
    expect(error.hint).toBe('Ask an Agnes admin for a grant.');
    expect(error.message).toBe('You may not read shop.orders.');
    expect(error.envelope).toEqual(envelope);
  });

  it('keeps a null hint from the envelope', async () => {
    mockRequest(
      respond(
        JSON.stringify({ error: 'not_found', message: 'No table t9.', hint: null, details: {} }),
        404,
        'Not Found'
      )
    );

    const error = await apiError(requestAPI('tables/t9/schema', {}, settings));

    expect(error.status).toBe(404);
    expect(error.code).toBe('not_found');
    expect(error.hint).toBeNull();
  });

  it('reports a 404 that is not JSON as the server extension missing', async () => {
    mockRequest(
      new Response('<html>404: Not Found</html>', { status: 404, statusText: 'Not Found' })
    );

    const error = await apiError(requestAPI('version', {}, settings));

    expect(error.status).toBe(404);
    expect(error.code).toBe('extension_missing');
    expect(error.message).toBe('404 Not Found from version');
    expect(error.hint).toBeNull();
    expect(error.envelope.details).toEqual({});
  });

  it('reports another status without an envelope as an http_error', async () => {
    mockRequest(respond('{"reason": "proxy"}', 502, 'Bad Gateway'));

    const error = await apiError(requestAPI('catalog', {}, settings));

    expect(error.status).toBe(502);
    expect(error.code).toBe('http_error');
    expect(error.message).toBe('502 Bad Gateway from catalog');
  });

  it('reports a failure to reach the server as a network_error with status 0', async () => {
    mockRequest(new TypeError('Failed to fetch'));

    const error = await apiError(requestAPI('catalog', {}, settings));

    expect(error.status).toBe(0);
    expect(error.code).toBe('network_error');
    expect(error.message).toContain('Failed to fetch');
    expect(error.hint).toMatch(/JupyterLab is still running/);
  });

  it('is what the typed helpers use (getCatalog)', async () => {
    const makeRequest = mockRequest(respond('{"tables": [], "count": 0}', 200));

    await expect(getCatalog()).resolves.toEqual({ tables: [], count: 0 });
    expect(String(makeRequest.mock.calls[0][0])).toMatch(/\/agnes\/v1\/catalog$/);
  });
});
