-- generated from pipelines/golden_tenant/pipeline.yaml and platform/cdc/source-groups.yaml — edit those instead
with source as (
    select * from {{ source('shop', 'all_types') }}
    where "__cdc_operation" is distinct from 'd'  -- not a deleted row's tombstone
),

renamed as (
    select
        cast("tenant_id" as text) as tenant_id,
        cast("Id" as integer) as id,
        cast("ABit" as boolean) as a_bit,
        cast("ATinyint" as smallint) as a_tinyint,
        cast("ASmallint" as smallint) as a_smallint,
        cast("ABigint" as bigint) as a_bigint,
        cast("ADecimal" as numeric(38,10)) as a_decimal,
        cast("ADecimalDefault" as numeric(18,0)) as a_decimal_default,
        cast("ANumeric" as numeric(9,0)) as a_numeric,
        cast("AMoney" as numeric(19,4)) as a_money,
        cast("ASmallmoney" as numeric(10,4)) as a_smallmoney,
        cast("AFloat" as double precision) as a_float,
        cast("AFloat24" as real) as a_float24,
        cast("ADouble" as double precision) as a_double,
        cast("AReal" as real) as a_real,
        cast("ADate" as date) as a_date,
        cast("ATime" as time) as a_time,
        cast("ATimeDefault" as time) as a_time_default,
        cast("ADatetime" as timestamp) as a_datetime,
        cast("ADatetime2" as timestamp) as a_datetime2,
        cast("ASmalldatetime" as timestamp) as a_smalldatetime,
        cast("ADatetimeoffset" as timestamptz) as a_datetimeoffset,
        cast("AChar" as char(10)) as a_char,
        cast("ANchar" as char(3)) as a_nchar,
        cast("AVarchar" as varchar(50)) as a_varchar,
        cast("AVarcharMax" as text) as a_varchar_max,
        cast("ANvarchar" as varchar(100)) as a_nvarchar,
        cast("ANvarcharMax" as text) as a_nvarchar_max,
        cast("AText" as text) as a_text,
        cast("ANtext" as text) as a_ntext,
        cast("ABinary" as bytea) as a_binary,
        cast("AVarbinary" as bytea) as a_varbinary,
        cast("AVarbinaryMax" as bytea) as a_varbinary_max,
        cast("AImage" as bytea) as a_image,
        cast("AUniqueidentifier" as uuid) as a_uniqueidentifier,
        cast("AXml" as text) as a_xml,
        cast("ARowversion" as bytea) as a_rowversion,
        cast("ATimestamp" as bytea) as a_timestamp,
        cast("ASysname" as varchar(128)) as a_sysname,
        cast("ASqlVariant" as text) as a_sql_variant,
        cast("AHierarchyid" as text) as a_hierarchyid,
        cast("AGeography" as bytea) as a_geography,
        cast("AGeometry" as bytea) as a_geometry,
        cast("AOverride" as varchar(4000)) as a_override,
        cast("__cdc_operation" as char(1)) as cdc_operation,
        cast("__cdc_commit_time" as timestamp) as cdc_committed_at,
        cast("__cdc_loaded_at" as timestamptz) as cdc_loaded_at
    from source
)

select * from renamed
