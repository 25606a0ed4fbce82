/** Identifiers shared across the Agnes frontend plugins. */

export const PLUGIN_PREFIX = 'agnes-jupyter';

export namespace PluginIDs {
  export const sidebar = `${PLUGIN_PREFIX}:sidebar`;
}

export namespace CommandIDs {
  export const refreshCatalog = 'agnes:refresh-catalog';
  export const openSidebar = 'agnes:open-sidebar';
}

/** The REST namespace of the server extension, relative to the server's base URL. */
export const API_NAMESPACE = 'agnes/v1';
