// @peculiar/x509 through one door. Its dependency tsyringe needs the Reflect metadata API, which the
// reflect-metadata polyfill provides; it must load before the library, which the import order here
// guarantees.
import 'reflect-metadata';

export * from '@peculiar/x509';
