// jest loads globalSetup outside its transform, so load the TypeScript through tsx.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { default: setup } = await tsImport('./global-setup.ts', import.meta.url);
  await setup();
}
