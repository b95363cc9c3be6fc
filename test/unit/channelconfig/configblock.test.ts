import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  channelIdOfBlock,
  configEnvelopeFromBlock,
  headerTypeOfBlock,
  isConfigBlock,
  readConfigBlock,
} from '../../../src/channelconfig/index.js';
import { common, toNumber } from '../../../src/protos/index.js';
import { fixturesDir } from '../../support/test-msp.js';

const readBlock = (path: string) => common.Block.decode(readFileSync(`${fixturesDir}${path}`));

describe('config block helpers', () => {
  const blocks: { file: string; channel: string; type: number; config: boolean; sequence?: number }[] = [
    { file: 'blocks/sys-solo.block', channel: 'system-channel', type: 1, config: true, sequence: 0 },
    { file: 'blocks/appraft-genesis.block', channel: 'appraft', type: 1, config: true, sequence: 0 },
    { file: 'golden/system-channel/1.block', channel: 'system-channel', type: 4, config: false },
    { file: 'golden/mychannel/0.block', channel: 'mychannel', type: 1, config: true, sequence: 1 },
    { file: 'golden/mychannel/1.block', channel: 'mychannel', type: 3, config: false },
    { file: 'golden/mychannel/2.block', channel: 'mychannel', type: 1, config: true, sequence: 2 },
  ];
  for (const b of blocks) {
    it(`${b.file}: channel ${b.channel}, header type ${b.type}`, () => {
      const block = readBlock(b.file);
      assert.equal(channelIdOfBlock(block), b.channel);
      assert.equal(headerTypeOfBlock(block), b.type);
      assert.equal(isConfigBlock(block), b.config);
      if (b.config) {
        const contents = readConfigBlock(block);
        assert.equal(contents.channelId, b.channel);
        assert.equal(toNumber(contents.configEnvelope.config!.sequence), b.sequence);
        assert.ok(configEnvelopeFromBlock(block).config!.channelGroup!.groups!['Orderer']);
      } else {
        assert.throws(
          () => configEnvelopeFromBlock(block),
          new RegExp(
            `block ${toNumber(block.header!.number)} is not a config block: its first envelope has header type ${b.type}`,
          ),
        );
      }
    });
  }

  it('mychannel block 2 carries the config update as last_update', () => {
    const { configEnvelope } = readConfigBlock(readBlock('golden/mychannel/2.block'));
    const lastUpdate = common.Payload.decode(configEnvelope.lastUpdate!.payload!);
    assert.equal(
      common.ChannelHeader.decode(lastUpdate.header!.channelHeader!).type,
      common.HeaderType.CONFIG_UPDATE,
    );
  });

  const broken: [string, common.IBlock, RegExp][] = [
    ['no data', { header: { number: 3 }, data: { data: [] } }, /block 3 has no data/],
    [
      'garbage envelope',
      { data: { data: [Buffer.from([0xff, 0xff, 0xff])] } },
      /data\[0\] is not an Envelope/,
    ],
    [
      'no channel header',
      {
        data: {
          data: [
            common.Envelope.encode({
              payload: common.Payload.encode({ data: Buffer.from('x') }).finish(),
            }).finish(),
          ],
        },
      },
      /payload has no channel header/,
    ],
  ];
  for (const [name, block, error] of broken) {
    it(`explains a block with ${name}`, () => {
      assert.throws(() => readConfigBlock(block), error);
      assert.equal(isConfigBlock(block), false);
      assert.equal(headerTypeOfBlock(block), undefined);
    });
  }
});
