import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** @type {import('next').NextConfig} */
const nextConfig = {
  // The bullrush addon is native code: keep it out of the bundler, so that
  // Node loads it with require() at run time.
  // (Next 14: experimental: { serverComponentsExternalPackages: ['bullrush'] })
  serverExternalPackages: ['bullrush'],
  // This app sits inside the bullrush repository, whose own package-lock.json
  // would otherwise make Turbopack take the repository root as the project root.
  // Not needed in an app of your own.
  turbopack: { root: path.dirname(fileURLToPath(import.meta.url)) },
};

export default nextConfig;
