/** Identifiers shared across the Agnes frontend plugins. */

export const PLUGIN_PREFIX = 'agnes-jupyter';

export namespace PluginIDs {
  export const sidebar = `${PLUGIN_PREFIX}:plugin`;
}

export namespace CommandIDs {
  export const refreshCatalog = 'agnes:refresh-catalog';
  export const openSidebar = 'agnes:open-sidebar';
  export const openTable = 'agnes:open-table';
  export const insertIbis = 'agnes:insert-ibis';
  export const insertSql = 'agnes:insert-sql';
  export const copyId = 'agnes:copy-id';
  export const addToStack = 'agnes:add-to-stack';
  export const estimateSnapshot = 'agnes:estimate-snapshot';
  export const showPackages = 'agnes:show-packages';
  export const showRecipes = 'agnes:show-recipes';
  export const showSnapshots = 'agnes:show-snapshots';
  export const sync = 'agnes:sync';
}

/** The REST namespace of the server extension, relative to the server's base URL. */
export const API_NAMESPACE = 'agnes/v1';
