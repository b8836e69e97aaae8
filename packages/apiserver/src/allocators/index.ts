// Service ClusterIP and NodePort allocation, stored in the store so several apiservers agree.

export * from './bitmap.js';
export * from './node-port.js';
export * from './service-ip.js';
export * from './services.js';
