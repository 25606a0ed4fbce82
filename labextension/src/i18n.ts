/** Strings through JupyterLab's translator (ITranslator), set once when the plugin activates. */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

let bundle: TranslationBundle = nullTranslator.load('agnes_jupyter');

export function setTranslationBundle(value: TranslationBundle): void {
  bundle = value;
}

/** A translated string; ``%1``, ``%2``... are replaced by the arguments. */
export function __(text: string, ...args: Array<string | number>): string {
  return bundle.__(text, ...args);
}

/** Singular or plural by count. */
export function _n(
  singular: string,
  plural: string,
  n: number,
  ...args: Array<string | number>
): string {
  return bundle._n(singular, plural, n, ...args);
}
