/** What every admin console screen receives from the console shell. */
import type { Me } from '../apitypes';

export interface IScreenProps {
  /** The signed-in admin (the console shows screens to admins only; the server still answers 403). */
  me: Me;
  /**
   * Tell the console that this screen changed data other screens show (the registry, groups,
   * packages, recipes), so they reload when shown next.
   */
  onChanged: (what: 'sources' | 'tables' | 'access' | 'curation' | 'tokens') => void;
  /** A counter the console bumps on `onChanged`; screens reload when it moves. */
  generation: number;
}
