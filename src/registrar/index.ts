export { attachRegistrar, contactList, type Binding, type BindingSource, type Registrar, type RegistrarDeps } from './registrar.js';
export { BindingStore } from './store.js';
export { CredentialsCache, type OperatorCredentials, type SipCredentials } from './credentials.js';
export { FailureLimiter } from './failure-limiter.js';
export { planRegister, type ExpiryLimits, type PlannedContact, type RegisterPlan } from './rules.js';
