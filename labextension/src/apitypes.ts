/**
 * Friendly names for the types of the Agnes REST API (agnes/v1).
 *
 * Every type here is derived from `schema.d.ts`, which `jlpm gen:api` generates from the OpenAPI
 * document the server serves (`tests/server/test_frontend_types.py` fails when it is out of date).
 * Do not hand-write response interfaces: when the panel needs a response that has no named schema,
 * add one under `components/schemas` in `server_ext/agnes_server/openapi.yaml` and regenerate.
 */
import type { components, paths } from './schema';

type Schemas = components['schemas'];

// Errors and identity.
export type ErrorEnvelope = Schemas['ErrorEnvelope'];
/** The scan routes' error envelope (`details` depends on `error`; see openapi.yaml). */
export type ScanError = Schemas['ScanError'];
export type Version = Schemas['Version'];
export type Me = Schemas['Me'];
export type Usage = Schemas['Usage'];

// Catalog, schema, sample, metadata freshness.
export type QueryMode = Schemas['QueryMode'];
export type Freshness = Schemas['Freshness'];
export type CatalogEntry = Schemas['CatalogEntry'];
export type Catalog = Schemas['Catalog'];
export type CatalogIds = Schemas['CatalogIds'];
export type Column = Schemas['Column'];
export type TableSchema = Schemas['TableSchema'];
export type Sample = Schemas['Sample'];
export type MetadataRow = Schemas['MetadataRow'];
export type MetadataStatus = Schemas['MetadataStatus'];

// Scans.
export type ScanQuery = Schemas['ScanQuery'];
export type ScanLimits = Schemas['ScanLimits'];
export type ScanEstimate = Schemas['ScanEstimate'];
/** The answer of POST scans/estimate. */
export type Estimate = ScanEstimate;
export type ScanVerdict = ScanEstimate['verdict'];
export type Scan = Schemas['Scan'];

// Packages, recipes, My Stack, sync.
export type Package = Schemas['Package'];
export type Recipe = Schemas['Recipe'];
export type RecipeParameter = Schemas['RecipeParameter'];
export type RenderedRecipe = Schemas['RenderedRecipe'];
export type Stack = Schemas['Stack'];
export type Manifest = Schemas['Manifest'];

// Personal access tokens.
export type Token = Schemas['Token'];
export type TokenCreated = Schemas['TokenCreated'];
export type TokenInput = Schemas['TokenInput'];

/**
 * The JSON body of a route's response, straight from the generated `paths`, for the responses
 * the document describes inline rather than with a named schema:
 * `JsonResponse<'/packages', 'get'>` is `{ packages: Package[] }`.
 */
export type JsonResponse<
  P extends keyof paths,
  M extends keyof paths[P],
  S extends number = 200
> = paths[P][M] extends { responses: infer R }
  ? S extends keyof R
    ? R[S] extends { content: { 'application/json': infer B } }
      ? B
      : never
    : never
  : never;

/** The JSON body a route accepts (`JsonRequestBody<'/recipes/{slug}/render', 'post'>`). */
export type JsonRequestBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

/** GET packages: inline in the document (no named schema). */
export type PackageList = JsonResponse<'/packages', 'get'>;
/** GET recipes: inline in the document (no named schema). */
export type RecipeList = JsonResponse<'/recipes', 'get'>;
/** GET tokens: inline in the document (no named schema). */
export type TokenList = JsonResponse<'/tokens', 'get'>;
/** The body of POST recipes/{slug}/render: inline in the document (no named schema). */
export type RenderRecipeRequest = JsonRequestBody<'/recipes/{slug}/render', 'post'>;

// The caller's workspace on this server (sync and snapshots run by the server, as the caller).
export type WorkspaceSnapshot = Schemas['WorkspaceSnapshot'];
export type WorkspaceDisk = Schemas['WorkspaceDisk'];
export type WorkspaceJob = Schemas['WorkspaceJob'];
export type WorkspaceJobProgress = Schemas['WorkspaceJobProgress'];
export type SyncReport = Schemas['SyncReport'];
/** GET workspace/snapshots: inline in the document (no named schema). */
export type WorkspaceSnapshots = JsonResponse<'/workspace/snapshots', 'get'>;
