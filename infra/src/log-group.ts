import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group/index.js';

export interface LogGroupProps {
  readonly name: string;
  readonly retentionDays: number;
}

/** The service's log group. The app logs no patient data, so the AWS-owned key is enough. */
export class LogGroup extends Construct {
  readonly group: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: LogGroupProps) {
    super(scope, id);
    this.group = new CloudwatchLogGroup(this, 'group', {
      name: `/arogya/${props.name}/service`,
      retentionInDays: props.retentionDays,
    });
  }
}
