import './index.css';
import './admin.css';
import './admin-screens.css';
