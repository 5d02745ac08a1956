-- generated from pipelines/golden_tenant/pipeline.yaml — edit it instead
-- Every earlier version of shop.all_types, with the time it was current (sys_period).
CREATE TABLE IF NOT EXISTS "shop"."all_types_history" (
    "tenant_id" text NOT NULL,
    "Id" integer NOT NULL,
    "ABit" boolean,
    "ATinyint" smallint,
    "ASmallint" smallint,
    "ABigint" bigint,
    "ADecimal" numeric(38,10),
    "ADecimalDefault" numeric(18,0),
    "ANumeric" numeric(9,0),
    "AMoney" numeric(19,4),
    "ASmallmoney" numeric(10,4),
    "AFloat" double precision,
    "AFloat24" real,
    "ADouble" double precision,
    "AReal" real,
    "ADate" date,
    "ATime" time(3),
    "ATimeDefault" time(6),
    "ADatetime" timestamp(3),
    "ADatetime2" timestamp(6),
    "ASmalldatetime" timestamp(0),
    "ADatetimeoffset" timestamptz(2),
    "AChar" char(10),
    "ANchar" char(3),
    "AVarchar" varchar(50),
    "AVarcharMax" text,
    "ANvarchar" varchar(100),
    "ANvarcharMax" text,
    "AText" text,
    "ANtext" text,
    "ABinary" bytea,
    "AVarbinary" bytea,
    "AVarbinaryMax" bytea,
    "AImage" bytea,
    "AUniqueidentifier" uuid,
    "AXml" xml,
    "ARowversion" bytea,
    "ATimestamp" bytea,
    "ASysname" varchar(128),
    "ASqlVariant" text,
    "AHierarchyid" text,
    "AGeography" bytea,
    "AGeometry" bytea,
    "AOverride" varchar(4000) NOT NULL,
    "__cdc_operation" char(1) NOT NULL,
    "__cdc_lsn" bytea NOT NULL,
    "__cdc_seq" bytea NOT NULL,
    "__cdc_commit_time" timestamp(3),
    "__cdc_loaded_at" timestamptz NOT NULL,
    "sys_period" tstzrange NOT NULL
);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "tenant_id" text;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "Id" integer;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ABit" boolean;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ATinyint" smallint;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ASmallint" smallint;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ABigint" bigint;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ADecimal" numeric(38,10);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ADecimalDefault" numeric(18,0);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ANumeric" numeric(9,0);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AMoney" numeric(19,4);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ASmallmoney" numeric(10,4);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AFloat" double precision;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AFloat24" real;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ADouble" double precision;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AReal" real;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ADate" date;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ATime" time(3);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ATimeDefault" time(6);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ADatetime" timestamp(3);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ADatetime2" timestamp(6);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ASmalldatetime" timestamp(0);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ADatetimeoffset" timestamptz(2);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AChar" char(10);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ANchar" char(3);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AVarchar" varchar(50);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AVarcharMax" text;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ANvarchar" varchar(100);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ANvarcharMax" text;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AText" text;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ANtext" text;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ABinary" bytea;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AVarbinary" bytea;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AVarbinaryMax" bytea;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AImage" bytea;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AUniqueidentifier" uuid;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AXml" xml;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ARowversion" bytea;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ATimestamp" bytea;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ASysname" varchar(128);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "ASqlVariant" text;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AHierarchyid" text;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AGeography" bytea;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AGeometry" bytea;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "AOverride" varchar(4000);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "__cdc_operation" char(1);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "__cdc_lsn" bytea;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "__cdc_seq" bytea;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "__cdc_commit_time" timestamp(3);
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "__cdc_loaded_at" timestamptz;
ALTER TABLE "shop"."all_types_history" ADD COLUMN IF NOT EXISTS "sys_period" tstzrange;
CREATE INDEX IF NOT EXISTS "all_types_history_key" ON "shop"."all_types_history" ("tenant_id", "Id", "sys_period");
COMMENT ON TABLE "shop"."all_types_history" IS 'history of shop.all_types: earlier row versions and when each was current';
