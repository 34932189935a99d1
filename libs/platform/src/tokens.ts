/** Injection tokens shared by the platform's providers. */
export const APP_CONFIG = Symbol('APP_CONFIG');
export const SERVICE_NAME = Symbol('SERVICE_NAME');
export const REDIS = Symbol('REDIS');
