// The demo's fake diagnostics body, for tests/local_host/test_diagnostics_contract.py to validate
// against the pydantic model (run through tests/support/typescript.mjs `run`).
import { fakeDiagnostics } from '../../client/src/app/fake-diagnostics';

export default () => fakeDiagnostics();
