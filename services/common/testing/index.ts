export * from './postgres.ts';
export * from './service.ts';
export * from './http.ts';
export * from './conformance.ts';
export * from './bad-input-property.ts';
export * from './bounded-units.ts';
export * from './go-service.ts';
export * from './slow-database.ts';
