/**
 * A minimal well-formedness check for the SVG the benchmark writes (no XML package in the
 * project): every element closed in order, attributes quoted, no stray `<` or `&`.
 */
export function wellFormedXml(text: string): boolean {
  const body = text.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const token =
    /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(?:amp|lt|gt|quot|apos|#\d+);)/g;
  let roots = 0;
  for (let match = token.exec(body); match !== null; match = token.exec(body)) {
    const [whole, closing, name, , selfClosing] = match;
    if (whole === '<' || whole === '&') return false;
    if (closing === '/') {
      if (stack.pop() !== name) return false;
    } else if (selfClosing !== '/') {
      if (stack.length === 0) roots++;
      stack.push(name as string);
    } else if (stack.length === 0) {
      roots++;
    }
  }
  return stack.length === 0 && roots === 1;
}
