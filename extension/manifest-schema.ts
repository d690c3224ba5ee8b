/**
 * package.json's contributes.debuggers[kvm].configurationAttributes.launch,
 * derived from the adapter's LAUNCH_SCHEMA (the one source of truth).
 * scripts/package.mjs writes it into package.json; a unit test checks they match.
 */
import { LAUNCH_SCHEMA } from '../debug-adapter/launch-config';

export interface JsonSchema {
  type?: string | string[];
  required?: string[];
  properties?: Record<string, { type: string | string[]; description: string; default?: unknown; items?: { type: string | string[] } }>;
}

export function launchAttributes(): JsonSchema {
  const properties: NonNullable<JsonSchema['properties']> = {};
  const required: string[] = [];
  for (const [key, p] of Object.entries(LAUNCH_SCHEMA)) {
    properties[key] = {
      type: p.type, description: p.description,
      ...(p.items ? { items: p.items } : {}),
      ...(p.default !== undefined ? { default: p.default } : {}),
    };
    if (p.required) required.push(key);
  }
  return { required, properties };
}
