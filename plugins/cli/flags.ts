/** The flag parser lives in the framework (families use it); re-exported for the CLI's users. */
export * from '../framework/flags';
