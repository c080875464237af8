// From reference/jssdk (our own probe of the SDK in Node).
// Node ESM resolve hook: wukongimjssdk@1.0.4 ships ES-module syntax in lib/*.js
// with extensionless relative imports ("./encoder", and "." for the directory
// index). Node's ESM resolver needs explicit files, so retry relative
// specifiers with ".js" (or "/index.js" for directory imports).
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const relative = specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../');
    if (!relative || !err) throw err;
    if (err.code === 'ERR_UNSUPPORTED_DIR_IMPORT') {
      return nextResolve(specifier.replace(/\/?$/, '/index.js'), context);
    }
    if (err.code === 'ERR_MODULE_NOT_FOUND') {
      return nextResolve(specifier + '.js', context);
    }
    throw err;
  }
}
