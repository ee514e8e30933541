/**
 * The reports Slipway writes, read with fast-xml-parser. Its validator runs
 * first and a malformed document throws, so a test that parses a report also
 * proves the report is well-formed (undeclared entities are refused too).
 * Values are kept as the strings they are (no number parsing, no trimming) and
 * entities and character references are decoded.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  /** Child elements in document order (text is in `text`). */
  children: XmlElement[];
  text: string;
}

const ATTRS = ':@';
const TEXT = '#text';

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  ignoreDeclaration: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  // also decodes numeric references (&#10;); HTML's named entities never get here (UNKNOWN_ENTITY)
  htmlEntities: true,
});

// the validator lets an undeclared entity through; without a DTD XML knows only these
const UNKNOWN_ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)[^\s;]*;?/;

type Node = Record<string, unknown>;

function element(node: Node): XmlElement | undefined {
  const name = Object.keys(node).find((k) => k !== ATTRS);
  if (name === undefined || name === TEXT) return undefined;
  const attrs = (node[ATTRS] ?? {}) as Record<string, string>;
  const body = node[name] as Node[];
  const children = body.map(element).filter((e): e is XmlElement => e !== undefined);
  const text = body.filter((n) => TEXT in n).map((n) => String(n[TEXT])).join('');
  return { name, attrs: { ...attrs }, children, text };
}

export function parseXml(source: string): XmlElement {
  const valid = XMLValidator.validate(source);
  if (valid !== true) throw new Error(`XML: ${valid.err.msg} at line ${valid.err.line}, column ${valid.err.col}`);
  const unknown = UNKNOWN_ENTITY.exec(source);
  if (unknown) throw new Error(`XML: unknown entity ${JSON.stringify(unknown[0])} at offset ${unknown.index}`);
  const roots = (parser.parse(source) as Node[]).map(element).filter((e): e is XmlElement => e !== undefined);
  if (roots.length !== 1) throw new Error(`XML: ${roots.length} root elements`);
  return roots[0]!;
}

/** Every descendant element with this name, in document order. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  return el.children.flatMap((c) => [...(c.name === name ? [c] : []), ...findAll(c, name)]);
}
