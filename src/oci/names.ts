// Grammar of repository names and tags (distribution-spec §"Pulling manifests"), and the checks both
// APIs refuse a bad one with.
import { DomainError } from '../errors.js';

const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Clients limit host + "/" + name to 255 characters; a name alone can't be longer. */
export const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** The name, or name-invalid (both APIs). */
export function requireValidName(name: string): string {
  if (!isValidName(name))
    throw new DomainError('name-invalid', 'invalid repository name', { name: name.slice(0, 300) });
  return name;
}

/** The tag, or tag-invalid (both APIs). */
export function requireValidTag(tag: string): string {
  if (!isValidTag(tag)) throw new DomainError('tag-invalid', 'invalid tag', { tag: tag.slice(0, 200) });
  return tag;
}
