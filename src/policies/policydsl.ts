// Fabric's policy language (common/policydsl): "OR('Org1MSP.member', AND('Org2MSP.admin',
// 'Org3MSP.peer'), OutOf(2, 'A.client', 'B.client', 'C.client'))" <-> SignaturePolicyEnvelope.
// As in Fabric, every principal occurrence gets its own entry in identities[].
import { badRequest } from '../errors.js';
import { common } from '../protos/index.js';
import { describePrincipal } from './principals.js';

const roles: Record<string, common.MSPRole.MSPRoleType> = {
  member: common.MSPRole.MSPRoleType.MEMBER,
  admin: common.MSPRole.MSPRoleType.ADMIN,
  client: common.MSPRole.MSPRoleType.CLIENT,
  peer: common.MSPRole.MSPRoleType.PEER,
  orderer: common.MSPRole.MSPRoleType.ORDERER,
};

const principalPattern = /^([A-Za-z0-9.-]+)\.(admin|member|client|peer|orderer)$/;

type Token =
  | { kind: 'ident'; text: string; at: number }
  | { kind: 'string'; text: string; at: number }
  | { kind: 'number'; value: number; at: number }
  | { kind: 'punct'; text: '(' | ')' | ','; at: number };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c, at: i });
      i++;
    } else if (c === "'" || c === '"') {
      const end = source.indexOf(c, i + 1);
      if (end < 0) throw syntaxError(source, i, 'unterminated string');
      tokens.push({ kind: 'string', text: source.slice(i + 1, end), at: i });
      i = end + 1;
    } else if (/[0-9]/.test(c)) {
      const match = /^[0-9]+/.exec(source.slice(i))![0];
      tokens.push({ kind: 'number', value: Number(match), at: i });
      i += match.length;
    } else if (/[A-Za-z]/.test(c)) {
      const match = /^[A-Za-z][A-Za-z0-9_]*/.exec(source.slice(i))![0];
      tokens.push({ kind: 'ident', text: match, at: i });
      i += match.length;
    } else {
      throw syntaxError(source, i, `unexpected character '${c}'`);
    }
  }
  return tokens;
}

function syntaxError(source: string, at: number, what: string) {
  return badRequest(`invalid policy expression "${source}": ${what} at position ${at}`);
}

/** Parses a policydsl expression into the SignaturePolicyEnvelope Fabric's policydsl.FromString makes. */
export function parsePolicy(source: string): common.SignaturePolicyEnvelope {
  const tokens = tokenize(source);
  const identities: common.IMSPPrincipal[] = [];
  let pos = 0;

  const peek = () => tokens[pos];
  const expectPunct = (text: string) => {
    const token = tokens[pos];
    if (!token || token.kind !== 'punct' || token.text !== text) {
      throw syntaxError(source, token?.at ?? source.length, `expected '${text}'`);
    }
    pos++;
  };

  const parseExpression = (): common.ISignaturePolicy => {
    const token = tokens[pos++];
    if (!token) throw syntaxError(source, source.length, 'unexpected end');
    if (token.kind === 'string') {
      const match = principalPattern.exec(token.text);
      if (!match) {
        throw syntaxError(
          source,
          token.at,
          `principal '${token.text}' is not of the form 'MSPID.member|admin|client|peer|orderer'`,
        );
      }
      const role = common.MSPRole.encode({ mspIdentifier: match[1]!, role: roles[match[2]!]! }).finish();
      identities.push({ principalClassification: common.MSPPrincipal.Classification.ROLE, principal: role });
      return { signedBy: identities.length - 1 };
    }
    if (token.kind !== 'ident')
      throw syntaxError(source, token.at, 'expected AND, OR, OutOf or a quoted principal');
    const gate = token.text.toLowerCase();
    if (gate !== 'and' && gate !== 'or' && gate !== 'outof') {
      throw syntaxError(source, token.at, `unknown operator ${token.text}`);
    }
    expectPunct('(');
    let threshold: number | undefined;
    if (gate === 'outof') {
      const n = tokens[pos++];
      if (!n || n.kind !== 'number')
        throw syntaxError(source, n?.at ?? source.length, 'OutOf needs a number first');
      threshold = n.value;
      expectPunct(',');
    }
    const rules: common.ISignaturePolicy[] = [parseExpression()];
    while (peek()?.kind === 'punct' && (peek() as { text: string }).text === ',') {
      pos++;
      rules.push(parseExpression());
    }
    expectPunct(')');
    const n = gate === 'and' ? rules.length : gate === 'or' ? 1 : threshold!;
    if (n > rules.length) {
      throw syntaxError(source, token.at, `OutOf(${n}, ...) names only ${rules.length} sub-rules`);
    }
    return { nOutOf: { n, rules } };
  };

  const rule = parseExpression();
  if (pos !== tokens.length) throw syntaxError(source, tokens[pos]!.at, 'unexpected trailing input');
  return common.SignaturePolicyEnvelope.create({ version: 0, rule, identities });
}

/** The policydsl spelling of an envelope, for descriptions and messages. */
export function formatSignaturePolicy(envelope: common.ISignaturePolicyEnvelope): string {
  const identities = envelope.identities ?? [];
  const format = (rule: common.ISignaturePolicy | null | undefined): string => {
    if (!rule) return '<empty>';
    if (rule.nOutOf) {
      const rules = rule.nOutOf.rules ?? [];
      const n = rule.nOutOf.n ?? 0;
      const inner = rules.map(format).join(', ');
      if (n === 1) return `OR(${inner})`;
      if (n === rules.length) return `AND(${inner})`;
      return `OutOf(${n}, ${inner})`;
    }
    if (rule.signedBy !== null && rule.signedBy !== undefined) {
      const principal = identities[rule.signedBy];
      return principal ? `'${describePrincipal(principal)}'` : `<identity #${rule.signedBy} missing>`;
    }
    return '<empty>';
  };
  return format(envelope.rule);
}
