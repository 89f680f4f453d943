import { describe, expect, it } from 'vitest';
import { asList, canonical, parseForm } from '../../src/simulator/form.js';

describe('parseForm', () => {
  it.each([
    { name: 'flat', body: 'amount=100&currency=usd', want: { amount: '100', currency: 'usd' } },
    { name: 'nested', body: 'metadata[order_id]=6735', want: { metadata: { order_id: '6735' } } },
    { name: 'encoded brackets', body: 'metadata%5Bk%5D=v', want: { metadata: { k: 'v' } } },
    { name: 'push array', body: 'expand[]=a&expand[]=b', want: { expand: { 0: 'a', 1: 'b' } } },
    { name: 'indexed array', body: 'types[0]=x&types[1]=y', want: { types: { 0: 'x', 1: 'y' } } },
    {
      name: 'range',
      body: 'created[gte]=1&created[lt]=2',
      want: { created: { gte: '1', lt: '2' } },
    },
    { name: 'empty value', body: 'metadata=', want: { metadata: '' } },
    { name: 'plus is space', body: 'description=a+b%20c', want: { description: 'a b c' } },
    { name: 'deep', body: 'a[b][c]=1', want: { a: { b: { c: '1' } } } },
  ])('$name', ({ body, want }) => {
    expect(JSON.parse(JSON.stringify(parseForm(body)))).toEqual(want);
  });

  it('keeps __proto__ as a plain key', () => {
    const parsed = parseForm('metadata[__proto__]=x');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.keys(parsed.metadata as object)).toEqual(['__proto__']);
  });

  it('reads lists only where asked', () => {
    const parsed = parseForm('expand[]=a&expand[]=b&metadata[7]=x');
    expect(asList(parsed.expand)).toEqual(['a', 'b']);
    expect(asList({ a: '1' })).toBeNull();
  });

  it('canonical is key-order independent', () => {
    expect(canonical({ b: 1, a: { d: 2, c: 3 } })).toBe(canonical({ a: { c: 3, d: 2 }, b: 1 }));
  });
});
