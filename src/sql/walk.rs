//! Exhaustive child enumeration for pg_query parse trees.
//!
//! Generated from pg_query's protobuf definitions by `gen_walk.py` (next to this file);
//! regenerate after upgrading pg_query. Every struct is destructured field by
//! field, so a new field or node type is a compile error, never a silent skip.

use pg_query::protobuf;
use pg_query::NodeRef;

#[inline]
fn child_node<'a>(n: &'a protobuf::Node, cb: &mut dyn FnMut(NodeRef<'a>)) {
    if let Some(inner) = n.node.as_ref() {
        cb(inner.to_ref());
    }
}

#[inline]
fn child_nodes<'a>(list: &'a [protobuf::Node], cb: &mut dyn FnMut(NodeRef<'a>)) {
    for n in list {
        child_node(n, cb);
    }
}

/// Calls `f` on every direct child of `parent` that is itself a parse node.
#[allow(clippy::too_many_lines)]
pub(crate) fn for_each_child<'a>(parent: NodeRef<'a>, cb: &mut dyn FnMut(NodeRef<'a>)) {
    match parent {
        NodeRef::AArrayExpr(n) => {
            let protobuf::AArrayExpr {
                elements,
                list_start: _,
                list_end: _,
                location: _,
            } = n;
            child_nodes(elements, cb);
        }
        NodeRef::AConst(n) => {
            let protobuf::AConst {
                isnull: _,
                location: _,
                val: _,
            } = n;
        }
        NodeRef::AExpr(n) => {
            let protobuf::AExpr {
                kind: _,
                name,
                lexpr,
                rexpr,
                rexpr_list_start: _,
                rexpr_list_end: _,
                location: _,
            } = n;
            child_nodes(name, cb);
            if let Some(x) = lexpr {
                child_node(x, cb);
            }
            if let Some(x) = rexpr {
                child_node(x, cb);
            }
        }
        NodeRef::AIndices(n) => {
            let protobuf::AIndices {
                is_slice: _,
                lidx,
                uidx,
            } = n;
            if let Some(x) = lidx {
                child_node(x, cb);
            }
            if let Some(x) = uidx {
                child_node(x, cb);
            }
        }
        NodeRef::AIndirection(n) => {
            let protobuf::AIndirection { arg, indirection } = n;
            if let Some(x) = arg {
                child_node(x, cb);
            }
            child_nodes(indirection, cb);
        }
        NodeRef::AStar(n) => {
            let protobuf::AStar {} = n;
        }
        NodeRef::AccessPriv(n) => {
            let protobuf::AccessPriv { priv_name: _, cols } = n;
            child_nodes(cols, cb);
        }
        NodeRef::Aggref(n) => {
            let protobuf::Aggref {
                xpr,
                aggfnoid: _,
                aggtype: _,
                aggcollid: _,
                inputcollid: _,
                aggargtypes,
                aggdirectargs,
                args,
                aggorder,
                aggdistinct,
                aggfilter,
                aggstar: _,
                aggvariadic: _,
                aggkind: _,
                agglevelsup: _,
                aggsplit: _,
                aggno: _,
                aggtransno: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(aggargtypes, cb);
            child_nodes(aggdirectargs, cb);
            child_nodes(args, cb);
            child_nodes(aggorder, cb);
            child_nodes(aggdistinct, cb);
            if let Some(x) = aggfilter {
                child_node(x, cb);
            }
        }
        NodeRef::Alias(n) => {
            let protobuf::Alias {
                aliasname: _,
                colnames,
            } = n;
            child_nodes(colnames, cb);
        }
        NodeRef::AlterCollationStmt(n) => {
            let protobuf::AlterCollationStmt { collname } = n;
            child_nodes(collname, cb);
        }
        NodeRef::AlterDatabaseRefreshCollStmt(n) => {
            let protobuf::AlterDatabaseRefreshCollStmt { dbname: _ } = n;
        }
        NodeRef::AlterDatabaseSetStmt(n) => {
            let protobuf::AlterDatabaseSetStmt { dbname: _, setstmt } = n;
            if let Some(x) = setstmt {
                cb(NodeRef::VariableSetStmt(x));
            }
        }
        NodeRef::AlterDatabaseStmt(n) => {
            let protobuf::AlterDatabaseStmt { dbname: _, options } = n;
            child_nodes(options, cb);
        }
        NodeRef::AlterDefaultPrivilegesStmt(n) => {
            let protobuf::AlterDefaultPrivilegesStmt { options, action } = n;
            child_nodes(options, cb);
            if let Some(x) = action {
                cb(NodeRef::GrantStmt(x));
            }
        }
        NodeRef::AlterDomainStmt(n) => {
            let protobuf::AlterDomainStmt {
                subtype: _,
                type_name,
                name: _,
                def,
                behavior: _,
                missing_ok: _,
            } = n;
            child_nodes(type_name, cb);
            if let Some(x) = def {
                child_node(x, cb);
            }
        }
        NodeRef::AlterEnumStmt(n) => {
            let protobuf::AlterEnumStmt {
                type_name,
                old_val: _,
                new_val: _,
                new_val_neighbor: _,
                new_val_is_after: _,
                skip_if_new_val_exists: _,
            } = n;
            child_nodes(type_name, cb);
        }
        NodeRef::AlterEventTrigStmt(n) => {
            let protobuf::AlterEventTrigStmt {
                trigname: _,
                tgenabled: _,
            } = n;
        }
        NodeRef::AlterExtensionContentsStmt(n) => {
            let protobuf::AlterExtensionContentsStmt {
                extname: _,
                action: _,
                objtype: _,
                object,
            } = n;
            if let Some(x) = object {
                child_node(x, cb);
            }
        }
        NodeRef::AlterExtensionStmt(n) => {
            let protobuf::AlterExtensionStmt {
                extname: _,
                options,
            } = n;
            child_nodes(options, cb);
        }
        NodeRef::AlterFdwStmt(n) => {
            let protobuf::AlterFdwStmt {
                fdwname: _,
                func_options,
                options,
            } = n;
            child_nodes(func_options, cb);
            child_nodes(options, cb);
        }
        NodeRef::AlterForeignServerStmt(n) => {
            let protobuf::AlterForeignServerStmt {
                servername: _,
                version: _,
                options,
                has_version: _,
            } = n;
            child_nodes(options, cb);
        }
        NodeRef::AlterFunctionStmt(n) => {
            let protobuf::AlterFunctionStmt {
                objtype: _,
                func,
                actions,
            } = n;
            if let Some(x) = func {
                cb(NodeRef::ObjectWithArgs(x));
            }
            child_nodes(actions, cb);
        }
        NodeRef::AlterObjectDependsStmt(n) => {
            let protobuf::AlterObjectDependsStmt {
                object_type: _,
                relation,
                object,
                extname,
                remove: _,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            if let Some(x) = object {
                child_node(x, cb);
            }
            if let Some(x) = extname {
                cb(NodeRef::String(x));
            }
        }
        NodeRef::AlterObjectSchemaStmt(n) => {
            let protobuf::AlterObjectSchemaStmt {
                object_type: _,
                relation,
                object,
                newschema: _,
                missing_ok: _,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            if let Some(x) = object {
                child_node(x, cb);
            }
        }
        NodeRef::AlterOpFamilyStmt(n) => {
            let protobuf::AlterOpFamilyStmt {
                opfamilyname,
                amname: _,
                is_drop: _,
                items,
            } = n;
            child_nodes(opfamilyname, cb);
            child_nodes(items, cb);
        }
        NodeRef::AlterOperatorStmt(n) => {
            let protobuf::AlterOperatorStmt { opername, options } = n;
            if let Some(x) = opername {
                cb(NodeRef::ObjectWithArgs(x));
            }
            child_nodes(options, cb);
        }
        NodeRef::AlterOwnerStmt(n) => {
            let protobuf::AlterOwnerStmt {
                object_type: _,
                relation,
                object,
                newowner,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            if let Some(x) = object {
                child_node(x, cb);
            }
            if let Some(x) = newowner {
                cb(NodeRef::RoleSpec(x));
            }
        }
        NodeRef::AlterPolicyStmt(n) => {
            let protobuf::AlterPolicyStmt {
                policy_name: _,
                table,
                roles,
                qual,
                with_check,
            } = n;
            if let Some(x) = table {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(roles, cb);
            if let Some(x) = qual {
                child_node(x, cb);
            }
            if let Some(x) = with_check {
                child_node(x, cb);
            }
        }
        NodeRef::AlterPublicationStmt(n) => {
            let protobuf::AlterPublicationStmt {
                pubname: _,
                options,
                pubobjects,
                for_all_tables: _,
                action: _,
            } = n;
            child_nodes(options, cb);
            child_nodes(pubobjects, cb);
        }
        NodeRef::AlterRoleSetStmt(n) => {
            let protobuf::AlterRoleSetStmt {
                role,
                database: _,
                setstmt,
            } = n;
            if let Some(x) = role {
                cb(NodeRef::RoleSpec(x));
            }
            if let Some(x) = setstmt {
                cb(NodeRef::VariableSetStmt(x));
            }
        }
        NodeRef::AlterRoleStmt(n) => {
            let protobuf::AlterRoleStmt {
                role,
                options,
                action: _,
            } = n;
            if let Some(x) = role {
                cb(NodeRef::RoleSpec(x));
            }
            child_nodes(options, cb);
        }
        NodeRef::AlterSeqStmt(n) => {
            let protobuf::AlterSeqStmt {
                sequence,
                options,
                for_identity: _,
                missing_ok: _,
            } = n;
            if let Some(x) = sequence {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(options, cb);
        }
        NodeRef::AlterStatsStmt(n) => {
            let protobuf::AlterStatsStmt {
                defnames,
                stxstattarget,
                missing_ok: _,
            } = n;
            child_nodes(defnames, cb);
            if let Some(x) = stxstattarget {
                child_node(x, cb);
            }
        }
        NodeRef::AlterSubscriptionStmt(n) => {
            let protobuf::AlterSubscriptionStmt {
                kind: _,
                subname: _,
                conninfo: _,
                publication,
                options,
                conninfo_location: _,
            } = n;
            child_nodes(publication, cb);
            child_nodes(options, cb);
        }
        NodeRef::AlterSystemStmt(n) => {
            let protobuf::AlterSystemStmt { setstmt } = n;
            if let Some(x) = setstmt {
                cb(NodeRef::VariableSetStmt(x));
            }
        }
        NodeRef::AlterTableCmd(n) => {
            let protobuf::AlterTableCmd {
                subtype: _,
                name: _,
                num: _,
                newowner,
                def,
                behavior: _,
                missing_ok: _,
                recurse: _,
            } = n;
            if let Some(x) = newowner {
                cb(NodeRef::RoleSpec(x));
            }
            if let Some(x) = def {
                child_node(x, cb);
            }
        }
        NodeRef::AlterTableMoveAllStmt(n) => {
            let protobuf::AlterTableMoveAllStmt {
                orig_tablespacename: _,
                objtype: _,
                roles,
                new_tablespacename: _,
                nowait: _,
            } = n;
            child_nodes(roles, cb);
        }
        NodeRef::AlterTableSpaceOptionsStmt(n) => {
            let protobuf::AlterTableSpaceOptionsStmt {
                tablespacename: _,
                options,
                is_reset: _,
            } = n;
            child_nodes(options, cb);
        }
        NodeRef::AlterTableStmt(n) => {
            let protobuf::AlterTableStmt {
                relation,
                cmds,
                objtype: _,
                missing_ok: _,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(cmds, cb);
        }
        NodeRef::AlterTsconfigurationStmt(n) => {
            let protobuf::AlterTsConfigurationStmt {
                kind: _,
                cfgname,
                tokentype,
                dicts,
                r#override: _,
                replace: _,
                missing_ok: _,
            } = n;
            child_nodes(cfgname, cb);
            child_nodes(tokentype, cb);
            child_nodes(dicts, cb);
        }
        NodeRef::AlterTsdictionaryStmt(n) => {
            let protobuf::AlterTsDictionaryStmt { dictname, options } = n;
            child_nodes(dictname, cb);
            child_nodes(options, cb);
        }
        NodeRef::AlterTypeStmt(n) => {
            let protobuf::AlterTypeStmt { type_name, options } = n;
            child_nodes(type_name, cb);
            child_nodes(options, cb);
        }
        NodeRef::AlterUserMappingStmt(n) => {
            let protobuf::AlterUserMappingStmt {
                user,
                servername: _,
                options,
            } = n;
            if let Some(x) = user {
                cb(NodeRef::RoleSpec(x));
            }
            child_nodes(options, cb);
        }
        NodeRef::AlternativeSubPlan(n) => {
            let protobuf::AlternativeSubPlan { xpr, subplans } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(subplans, cb);
        }
        NodeRef::ArrayCoerceExpr(n) => {
            let protobuf::ArrayCoerceExpr {
                xpr,
                arg,
                elemexpr,
                resulttype: _,
                resulttypmod: _,
                resultcollid: _,
                coerceformat: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
            if let Some(x) = elemexpr {
                child_node(x, cb);
            }
        }
        NodeRef::ArrayExpr(n) => {
            let protobuf::ArrayExpr {
                xpr,
                array_typeid: _,
                array_collid: _,
                element_typeid: _,
                elements,
                multidims: _,
                list_start: _,
                list_end: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(elements, cb);
        }
        NodeRef::AtalterConstraint(n) => {
            let protobuf::AtAlterConstraint {
                conname: _,
                alter_enforceability: _,
                is_enforced: _,
                alter_deferrability: _,
                deferrable: _,
                initdeferred: _,
                alter_inheritability: _,
                noinherit: _,
            } = n;
        }
        NodeRef::BitString(n) => {
            let protobuf::BitString { bsval: _ } = n;
        }
        NodeRef::BoolExpr(n) => {
            let protobuf::BoolExpr {
                xpr,
                boolop: _,
                args,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
        }
        NodeRef::Boolean(n) => {
            let protobuf::Boolean { boolval: _ } = n;
        }
        NodeRef::BooleanTest(n) => {
            let protobuf::BooleanTest {
                xpr,
                arg,
                booltesttype: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::CallContext(n) => {
            let protobuf::CallContext { atomic: _ } = n;
        }
        NodeRef::CallStmt(n) => {
            let protobuf::CallStmt {
                funccall,
                funcexpr,
                outargs,
            } = n;
            if let Some(x) = funccall {
                cb(NodeRef::FuncCall(x));
            }
            if let Some(x) = funcexpr {
                cb(NodeRef::FuncExpr(x));
            }
            child_nodes(outargs, cb);
        }
        NodeRef::CaseExpr(n) => {
            let protobuf::CaseExpr {
                xpr,
                casetype: _,
                casecollid: _,
                arg,
                args,
                defresult,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
            child_nodes(args, cb);
            if let Some(x) = defresult {
                child_node(x, cb);
            }
        }
        NodeRef::CaseTestExpr(n) => {
            let protobuf::CaseTestExpr {
                xpr,
                type_id: _,
                type_mod: _,
                collation: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
        }
        NodeRef::CaseWhen(n) => {
            let protobuf::CaseWhen {
                xpr,
                expr,
                result,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = expr {
                child_node(x, cb);
            }
            if let Some(x) = result {
                child_node(x, cb);
            }
        }
        NodeRef::CheckPointStmt(n) => {
            let protobuf::CheckPointStmt {} = n;
        }
        NodeRef::ClosePortalStmt(n) => {
            let protobuf::ClosePortalStmt { portalname: _ } = n;
        }
        NodeRef::ClusterStmt(n) => {
            let protobuf::ClusterStmt {
                relation,
                indexname: _,
                params,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(params, cb);
        }
        NodeRef::CoalesceExpr(n) => {
            let protobuf::CoalesceExpr {
                xpr,
                coalescetype: _,
                coalescecollid: _,
                args,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
        }
        NodeRef::CoerceToDomain(n) => {
            let protobuf::CoerceToDomain {
                xpr,
                arg,
                resulttype: _,
                resulttypmod: _,
                resultcollid: _,
                coercionformat: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::CoerceToDomainValue(n) => {
            let protobuf::CoerceToDomainValue {
                xpr,
                type_id: _,
                type_mod: _,
                collation: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
        }
        NodeRef::CoerceViaIo(n) => {
            let protobuf::CoerceViaIo {
                xpr,
                arg,
                resulttype: _,
                resultcollid: _,
                coerceformat: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::CollateClause(n) => {
            let protobuf::CollateClause {
                arg,
                collname,
                location: _,
            } = n;
            if let Some(x) = arg {
                child_node(x, cb);
            }
            child_nodes(collname, cb);
        }
        NodeRef::CollateExpr(n) => {
            let protobuf::CollateExpr {
                xpr,
                arg,
                coll_oid: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::ColumnDef(n) => {
            let protobuf::ColumnDef {
                colname: _,
                type_name,
                compression: _,
                inhcount: _,
                is_local: _,
                is_not_null: _,
                is_from_type: _,
                storage: _,
                storage_name: _,
                raw_default,
                cooked_default,
                identity: _,
                identity_sequence,
                generated: _,
                coll_clause,
                coll_oid: _,
                constraints,
                fdwoptions,
                location: _,
            } = n;
            if let Some(x) = type_name {
                cb(NodeRef::TypeName(x));
            }
            if let Some(x) = raw_default {
                child_node(x, cb);
            }
            if let Some(x) = cooked_default {
                child_node(x, cb);
            }
            if let Some(x) = identity_sequence {
                cb(NodeRef::RangeVar(x));
            }
            if let Some(x) = coll_clause {
                cb(NodeRef::CollateClause(x));
            }
            child_nodes(constraints, cb);
            child_nodes(fdwoptions, cb);
        }
        NodeRef::ColumnRef(n) => {
            let protobuf::ColumnRef {
                fields,
                location: _,
            } = n;
            child_nodes(fields, cb);
        }
        NodeRef::CommentStmt(n) => {
            let protobuf::CommentStmt {
                objtype: _,
                object,
                comment: _,
            } = n;
            if let Some(x) = object {
                child_node(x, cb);
            }
        }
        NodeRef::CommonTableExpr(n) => {
            let protobuf::CommonTableExpr {
                ctename: _,
                aliascolnames,
                ctematerialized: _,
                ctequery,
                search_clause,
                cycle_clause,
                location: _,
                cterecursive: _,
                cterefcount: _,
                ctecolnames,
                ctecoltypes,
                ctecoltypmods,
                ctecolcollations,
            } = n;
            child_nodes(aliascolnames, cb);
            if let Some(x) = ctequery {
                child_node(x, cb);
            }
            if let Some(x) = search_clause {
                cb(NodeRef::CtesearchClause(x));
            }
            if let Some(x) = cycle_clause {
                cb(NodeRef::CtecycleClause(x));
            }
            child_nodes(ctecolnames, cb);
            child_nodes(ctecoltypes, cb);
            child_nodes(ctecoltypmods, cb);
            child_nodes(ctecolcollations, cb);
        }
        NodeRef::CompositeTypeStmt(n) => {
            let protobuf::CompositeTypeStmt {
                typevar,
                coldeflist,
            } = n;
            if let Some(x) = typevar {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(coldeflist, cb);
        }
        NodeRef::Constraint(n) => {
            let protobuf::Constraint {
                contype: _,
                conname: _,
                deferrable: _,
                initdeferred: _,
                is_enforced: _,
                skip_validation: _,
                initially_valid: _,
                is_no_inherit: _,
                raw_expr,
                cooked_expr: _,
                generated_when: _,
                generated_kind: _,
                nulls_not_distinct: _,
                keys,
                without_overlaps: _,
                including,
                exclusions,
                options,
                indexname: _,
                indexspace: _,
                reset_default_tblspc: _,
                access_method: _,
                where_clause,
                pktable,
                fk_attrs,
                pk_attrs,
                fk_with_period: _,
                pk_with_period: _,
                fk_matchtype: _,
                fk_upd_action: _,
                fk_del_action: _,
                fk_del_set_cols,
                old_conpfeqop,
                old_pktable_oid: _,
                location: _,
            } = n;
            if let Some(x) = raw_expr {
                child_node(x, cb);
            }
            child_nodes(keys, cb);
            child_nodes(including, cb);
            child_nodes(exclusions, cb);
            child_nodes(options, cb);
            if let Some(x) = where_clause {
                child_node(x, cb);
            }
            if let Some(x) = pktable {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(fk_attrs, cb);
            child_nodes(pk_attrs, cb);
            child_nodes(fk_del_set_cols, cb);
            child_nodes(old_conpfeqop, cb);
        }
        NodeRef::ConstraintsSetStmt(n) => {
            let protobuf::ConstraintsSetStmt {
                constraints,
                deferred: _,
            } = n;
            child_nodes(constraints, cb);
        }
        NodeRef::ConvertRowtypeExpr(n) => {
            let protobuf::ConvertRowtypeExpr {
                xpr,
                arg,
                resulttype: _,
                convertformat: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::CopyStmt(n) => {
            let protobuf::CopyStmt {
                relation,
                query,
                attlist,
                is_from: _,
                is_program: _,
                filename: _,
                options,
                where_clause,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            if let Some(x) = query {
                child_node(x, cb);
            }
            child_nodes(attlist, cb);
            child_nodes(options, cb);
            if let Some(x) = where_clause {
                child_node(x, cb);
            }
        }
        NodeRef::CreateAmStmt(n) => {
            let protobuf::CreateAmStmt {
                amname: _,
                handler_name,
                amtype: _,
            } = n;
            child_nodes(handler_name, cb);
        }
        NodeRef::CreateCastStmt(n) => {
            let protobuf::CreateCastStmt {
                sourcetype,
                targettype,
                func,
                context: _,
                inout: _,
            } = n;
            if let Some(x) = sourcetype {
                cb(NodeRef::TypeName(x));
            }
            if let Some(x) = targettype {
                cb(NodeRef::TypeName(x));
            }
            if let Some(x) = func {
                cb(NodeRef::ObjectWithArgs(x));
            }
        }
        NodeRef::CreateConversionStmt(n) => {
            let protobuf::CreateConversionStmt {
                conversion_name,
                for_encoding_name: _,
                to_encoding_name: _,
                func_name,
                def: _,
            } = n;
            child_nodes(conversion_name, cb);
            child_nodes(func_name, cb);
        }
        NodeRef::CreateDomainStmt(n) => {
            let protobuf::CreateDomainStmt {
                domainname,
                type_name,
                coll_clause,
                constraints,
            } = n;
            child_nodes(domainname, cb);
            if let Some(x) = type_name {
                cb(NodeRef::TypeName(x));
            }
            if let Some(x) = coll_clause {
                cb(NodeRef::CollateClause(x));
            }
            child_nodes(constraints, cb);
        }
        NodeRef::CreateEnumStmt(n) => {
            let protobuf::CreateEnumStmt { type_name, vals } = n;
            child_nodes(type_name, cb);
            child_nodes(vals, cb);
        }
        NodeRef::CreateEventTrigStmt(n) => {
            let protobuf::CreateEventTrigStmt {
                trigname: _,
                eventname: _,
                whenclause,
                funcname,
            } = n;
            child_nodes(whenclause, cb);
            child_nodes(funcname, cb);
        }
        NodeRef::CreateExtensionStmt(n) => {
            let protobuf::CreateExtensionStmt {
                extname: _,
                if_not_exists: _,
                options,
            } = n;
            child_nodes(options, cb);
        }
        NodeRef::CreateFdwStmt(n) => {
            let protobuf::CreateFdwStmt {
                fdwname: _,
                func_options,
                options,
            } = n;
            child_nodes(func_options, cb);
            child_nodes(options, cb);
        }
        NodeRef::CreateForeignServerStmt(n) => {
            let protobuf::CreateForeignServerStmt {
                servername: _,
                servertype: _,
                version: _,
                fdwname: _,
                if_not_exists: _,
                options,
            } = n;
            child_nodes(options, cb);
        }
        NodeRef::CreateForeignTableStmt(n) => {
            let protobuf::CreateForeignTableStmt {
                base_stmt,
                servername: _,
                options,
            } = n;
            if let Some(x) = base_stmt {
                cb(NodeRef::CreateStmt(x));
            }
            child_nodes(options, cb);
        }
        NodeRef::CreateFunctionStmt(n) => {
            let protobuf::CreateFunctionStmt {
                is_procedure: _,
                replace: _,
                funcname,
                parameters,
                return_type,
                options,
                sql_body,
            } = n;
            child_nodes(funcname, cb);
            child_nodes(parameters, cb);
            if let Some(x) = return_type {
                cb(NodeRef::TypeName(x));
            }
            child_nodes(options, cb);
            if let Some(x) = sql_body {
                child_node(x, cb);
            }
        }
        NodeRef::CreateOpClassItem(n) => {
            let protobuf::CreateOpClassItem {
                itemtype: _,
                name,
                number: _,
                order_family,
                class_args,
                storedtype,
            } = n;
            if let Some(x) = name {
                cb(NodeRef::ObjectWithArgs(x));
            }
            child_nodes(order_family, cb);
            child_nodes(class_args, cb);
            if let Some(x) = storedtype {
                cb(NodeRef::TypeName(x));
            }
        }
        NodeRef::CreateOpClassStmt(n) => {
            let protobuf::CreateOpClassStmt {
                opclassname,
                opfamilyname,
                amname: _,
                datatype,
                items,
                is_default: _,
            } = n;
            child_nodes(opclassname, cb);
            child_nodes(opfamilyname, cb);
            if let Some(x) = datatype {
                cb(NodeRef::TypeName(x));
            }
            child_nodes(items, cb);
        }
        NodeRef::CreateOpFamilyStmt(n) => {
            let protobuf::CreateOpFamilyStmt {
                opfamilyname,
                amname: _,
            } = n;
            child_nodes(opfamilyname, cb);
        }
        NodeRef::CreatePlangStmt(n) => {
            let protobuf::CreatePLangStmt {
                replace: _,
                plname: _,
                plhandler,
                plinline,
                plvalidator,
                pltrusted: _,
            } = n;
            child_nodes(plhandler, cb);
            child_nodes(plinline, cb);
            child_nodes(plvalidator, cb);
        }
        NodeRef::CreatePolicyStmt(n) => {
            let protobuf::CreatePolicyStmt {
                policy_name: _,
                table,
                cmd_name: _,
                permissive: _,
                roles,
                qual,
                with_check,
            } = n;
            if let Some(x) = table {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(roles, cb);
            if let Some(x) = qual {
                child_node(x, cb);
            }
            if let Some(x) = with_check {
                child_node(x, cb);
            }
        }
        NodeRef::CreatePublicationStmt(n) => {
            let protobuf::CreatePublicationStmt {
                pubname: _,
                options,
                pubobjects,
                for_all_tables: _,
            } = n;
            child_nodes(options, cb);
            child_nodes(pubobjects, cb);
        }
        NodeRef::CreateRangeStmt(n) => {
            let protobuf::CreateRangeStmt { type_name, params } = n;
            child_nodes(type_name, cb);
            child_nodes(params, cb);
        }
        NodeRef::CreateRoleStmt(n) => {
            let protobuf::CreateRoleStmt {
                stmt_type: _,
                role: _,
                options,
            } = n;
            child_nodes(options, cb);
        }
        NodeRef::CreateSchemaStmt(n) => {
            let protobuf::CreateSchemaStmt {
                schemaname: _,
                authrole,
                schema_elts,
                if_not_exists: _,
            } = n;
            if let Some(x) = authrole {
                cb(NodeRef::RoleSpec(x));
            }
            child_nodes(schema_elts, cb);
        }
        NodeRef::CreateSeqStmt(n) => {
            let protobuf::CreateSeqStmt {
                sequence,
                options,
                owner_id: _,
                for_identity: _,
                if_not_exists: _,
            } = n;
            if let Some(x) = sequence {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(options, cb);
        }
        NodeRef::CreateStatsStmt(n) => {
            let protobuf::CreateStatsStmt {
                defnames,
                stat_types,
                exprs,
                relations,
                stxcomment: _,
                transformed: _,
                if_not_exists: _,
            } = n;
            child_nodes(defnames, cb);
            child_nodes(stat_types, cb);
            child_nodes(exprs, cb);
            child_nodes(relations, cb);
        }
        NodeRef::CreateStmt(n) => {
            let protobuf::CreateStmt {
                relation,
                table_elts,
                inh_relations,
                partbound,
                partspec,
                of_typename,
                constraints,
                nnconstraints,
                options,
                oncommit: _,
                tablespacename: _,
                access_method: _,
                if_not_exists: _,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(table_elts, cb);
            child_nodes(inh_relations, cb);
            if let Some(x) = partbound {
                cb(NodeRef::PartitionBoundSpec(x));
            }
            if let Some(x) = partspec {
                cb(NodeRef::PartitionSpec(x));
            }
            if let Some(x) = of_typename {
                cb(NodeRef::TypeName(x));
            }
            child_nodes(constraints, cb);
            child_nodes(nnconstraints, cb);
            child_nodes(options, cb);
        }
        NodeRef::CreateSubscriptionStmt(n) => {
            let protobuf::CreateSubscriptionStmt {
                subname: _,
                conninfo: _,
                publication,
                options,
                conninfo_location: _,
            } = n;
            child_nodes(publication, cb);
            child_nodes(options, cb);
        }
        NodeRef::CreateTableAsStmt(n) => {
            let protobuf::CreateTableAsStmt {
                query,
                into,
                objtype: _,
                is_select_into: _,
                if_not_exists: _,
            } = n;
            if let Some(x) = query {
                child_node(x, cb);
            }
            if let Some(x) = into {
                cb(NodeRef::IntoClause(x));
            }
        }
        NodeRef::CreateTableSpaceStmt(n) => {
            let protobuf::CreateTableSpaceStmt {
                tablespacename: _,
                owner,
                location: _,
                options,
            } = n;
            if let Some(x) = owner {
                cb(NodeRef::RoleSpec(x));
            }
            child_nodes(options, cb);
        }
        NodeRef::CreateTransformStmt(n) => {
            let protobuf::CreateTransformStmt {
                replace: _,
                type_name,
                lang: _,
                fromsql,
                tosql,
            } = n;
            if let Some(x) = type_name {
                cb(NodeRef::TypeName(x));
            }
            if let Some(x) = fromsql {
                cb(NodeRef::ObjectWithArgs(x));
            }
            if let Some(x) = tosql {
                cb(NodeRef::ObjectWithArgs(x));
            }
        }
        NodeRef::CreateTrigStmt(n) => {
            let protobuf::CreateTrigStmt {
                replace: _,
                isconstraint: _,
                trigname: _,
                relation,
                funcname,
                args,
                row: _,
                timing: _,
                events: _,
                columns,
                when_clause,
                transition_rels,
                deferrable: _,
                initdeferred: _,
                constrrel,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(funcname, cb);
            child_nodes(args, cb);
            child_nodes(columns, cb);
            if let Some(x) = when_clause {
                child_node(x, cb);
            }
            child_nodes(transition_rels, cb);
            if let Some(x) = constrrel {
                cb(NodeRef::RangeVar(x));
            }
        }
        NodeRef::CreateUserMappingStmt(n) => {
            let protobuf::CreateUserMappingStmt {
                user,
                servername: _,
                if_not_exists: _,
                options,
            } = n;
            if let Some(x) = user {
                cb(NodeRef::RoleSpec(x));
            }
            child_nodes(options, cb);
        }
        NodeRef::CreatedbStmt(n) => {
            let protobuf::CreatedbStmt { dbname: _, options } = n;
            child_nodes(options, cb);
        }
        NodeRef::CtecycleClause(n) => {
            let protobuf::CteCycleClause {
                cycle_col_list,
                cycle_mark_column: _,
                cycle_mark_value,
                cycle_mark_default,
                cycle_path_column: _,
                location: _,
                cycle_mark_type: _,
                cycle_mark_typmod: _,
                cycle_mark_collation: _,
                cycle_mark_neop: _,
            } = n;
            child_nodes(cycle_col_list, cb);
            if let Some(x) = cycle_mark_value {
                child_node(x, cb);
            }
            if let Some(x) = cycle_mark_default {
                child_node(x, cb);
            }
        }
        NodeRef::CtesearchClause(n) => {
            let protobuf::CteSearchClause {
                search_col_list,
                search_breadth_first: _,
                search_seq_column: _,
                location: _,
            } = n;
            child_nodes(search_col_list, cb);
        }
        NodeRef::CurrentOfExpr(n) => {
            let protobuf::CurrentOfExpr {
                xpr,
                cvarno: _,
                cursor_name: _,
                cursor_param: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
        }
        NodeRef::DeallocateStmt(n) => {
            let protobuf::DeallocateStmt {
                name: _,
                isall: _,
                location: _,
            } = n;
        }
        NodeRef::DeclareCursorStmt(n) => {
            let protobuf::DeclareCursorStmt {
                portalname: _,
                options: _,
                query,
            } = n;
            if let Some(x) = query {
                child_node(x, cb);
            }
        }
        NodeRef::DefElem(n) => {
            let protobuf::DefElem {
                defnamespace: _,
                defname: _,
                arg,
                defaction: _,
                location: _,
                arg_location: _,
            } = n;
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::DefineStmt(n) => {
            let protobuf::DefineStmt {
                kind: _,
                oldstyle: _,
                defnames,
                args,
                definition,
                if_not_exists: _,
                replace: _,
            } = n;
            child_nodes(defnames, cb);
            child_nodes(args, cb);
            child_nodes(definition, cb);
        }
        NodeRef::DeleteStmt(n) => {
            let protobuf::DeleteStmt {
                relation,
                using_clause,
                where_clause,
                returning_clause,
                with_clause,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(using_clause, cb);
            if let Some(x) = where_clause {
                child_node(x, cb);
            }
            if let Some(x) = returning_clause {
                cb(NodeRef::ReturningClause(x));
            }
            if let Some(x) = with_clause {
                cb(NodeRef::WithClause(x));
            }
        }
        NodeRef::DiscardStmt(n) => {
            let protobuf::DiscardStmt { target: _ } = n;
        }
        NodeRef::DistinctExpr(n) => {
            let protobuf::DistinctExpr {
                xpr,
                opno: _,
                opresulttype: _,
                opretset: _,
                opcollid: _,
                inputcollid: _,
                args,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
        }
        NodeRef::DoStmt(n) => {
            let protobuf::DoStmt { args } = n;
            child_nodes(args, cb);
        }
        NodeRef::DropOwnedStmt(n) => {
            let protobuf::DropOwnedStmt { roles, behavior: _ } = n;
            child_nodes(roles, cb);
        }
        NodeRef::DropRoleStmt(n) => {
            let protobuf::DropRoleStmt {
                roles,
                missing_ok: _,
            } = n;
            child_nodes(roles, cb);
        }
        NodeRef::DropStmt(n) => {
            let protobuf::DropStmt {
                objects,
                remove_type: _,
                behavior: _,
                missing_ok: _,
                concurrent: _,
            } = n;
            child_nodes(objects, cb);
        }
        NodeRef::DropSubscriptionStmt(n) => {
            let protobuf::DropSubscriptionStmt {
                subname: _,
                missing_ok: _,
                behavior: _,
            } = n;
        }
        NodeRef::DropTableSpaceStmt(n) => {
            let protobuf::DropTableSpaceStmt {
                tablespacename: _,
                missing_ok: _,
            } = n;
        }
        NodeRef::DropUserMappingStmt(n) => {
            let protobuf::DropUserMappingStmt {
                user,
                servername: _,
                missing_ok: _,
            } = n;
            if let Some(x) = user {
                cb(NodeRef::RoleSpec(x));
            }
        }
        NodeRef::DropdbStmt(n) => {
            let protobuf::DropdbStmt {
                dbname: _,
                missing_ok: _,
                options,
            } = n;
            child_nodes(options, cb);
        }
        NodeRef::ExecuteStmt(n) => {
            let protobuf::ExecuteStmt { name: _, params } = n;
            child_nodes(params, cb);
        }
        NodeRef::ExplainStmt(n) => {
            let protobuf::ExplainStmt { query, options } = n;
            if let Some(x) = query {
                child_node(x, cb);
            }
            child_nodes(options, cb);
        }
        NodeRef::FetchStmt(n) => {
            let protobuf::FetchStmt {
                direction: _,
                how_many: _,
                portalname: _,
                ismove: _,
            } = n;
        }
        NodeRef::FieldSelect(n) => {
            let protobuf::FieldSelect {
                xpr,
                arg,
                fieldnum: _,
                resulttype: _,
                resulttypmod: _,
                resultcollid: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::FieldStore(n) => {
            let protobuf::FieldStore {
                xpr,
                arg,
                newvals,
                fieldnums,
                resulttype: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
            child_nodes(newvals, cb);
            child_nodes(fieldnums, cb);
        }
        NodeRef::Float(n) => {
            let protobuf::Float { fval: _ } = n;
        }
        NodeRef::FromExpr(n) => {
            let protobuf::FromExpr { fromlist, quals } = n;
            child_nodes(fromlist, cb);
            if let Some(x) = quals {
                child_node(x, cb);
            }
        }
        NodeRef::FuncCall(n) => {
            let protobuf::FuncCall {
                funcname,
                args,
                agg_order,
                agg_filter,
                over,
                agg_within_group: _,
                agg_star: _,
                agg_distinct: _,
                func_variadic: _,
                funcformat: _,
                location: _,
            } = n;
            child_nodes(funcname, cb);
            child_nodes(args, cb);
            child_nodes(agg_order, cb);
            if let Some(x) = agg_filter {
                child_node(x, cb);
            }
            if let Some(x) = over {
                cb(NodeRef::WindowDef(x));
            }
        }
        NodeRef::FuncExpr(n) => {
            let protobuf::FuncExpr {
                xpr,
                funcid: _,
                funcresulttype: _,
                funcretset: _,
                funcvariadic: _,
                funcformat: _,
                funccollid: _,
                inputcollid: _,
                args,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
        }
        NodeRef::FunctionParameter(n) => {
            let protobuf::FunctionParameter {
                name: _,
                arg_type,
                mode: _,
                defexpr,
                location: _,
            } = n;
            if let Some(x) = arg_type {
                cb(NodeRef::TypeName(x));
            }
            if let Some(x) = defexpr {
                child_node(x, cb);
            }
        }
        NodeRef::GrantRoleStmt(n) => {
            let protobuf::GrantRoleStmt {
                granted_roles,
                grantee_roles,
                is_grant: _,
                opt,
                grantor,
                behavior: _,
            } = n;
            child_nodes(granted_roles, cb);
            child_nodes(grantee_roles, cb);
            child_nodes(opt, cb);
            if let Some(x) = grantor {
                cb(NodeRef::RoleSpec(x));
            }
        }
        NodeRef::GrantStmt(n) => {
            let protobuf::GrantStmt {
                is_grant: _,
                targtype: _,
                objtype: _,
                objects,
                privileges,
                grantees,
                grant_option: _,
                grantor,
                behavior: _,
            } = n;
            child_nodes(objects, cb);
            child_nodes(privileges, cb);
            child_nodes(grantees, cb);
            if let Some(x) = grantor {
                cb(NodeRef::RoleSpec(x));
            }
        }
        NodeRef::GroupingFunc(n) => {
            let protobuf::GroupingFunc {
                xpr,
                args,
                refs,
                agglevelsup: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
            child_nodes(refs, cb);
        }
        NodeRef::GroupingSet(n) => {
            let protobuf::GroupingSet {
                kind: _,
                content,
                location: _,
            } = n;
            child_nodes(content, cb);
        }
        NodeRef::ImportForeignSchemaStmt(n) => {
            let protobuf::ImportForeignSchemaStmt {
                server_name: _,
                remote_schema: _,
                local_schema: _,
                list_type: _,
                table_list,
                options,
            } = n;
            child_nodes(table_list, cb);
            child_nodes(options, cb);
        }
        NodeRef::IndexElem(n) => {
            let protobuf::IndexElem {
                name: _,
                expr,
                indexcolname: _,
                collation,
                opclass,
                opclassopts,
                ordering: _,
                nulls_ordering: _,
            } = n;
            if let Some(x) = expr {
                child_node(x, cb);
            }
            child_nodes(collation, cb);
            child_nodes(opclass, cb);
            child_nodes(opclassopts, cb);
        }
        NodeRef::IndexStmt(n) => {
            let protobuf::IndexStmt {
                idxname: _,
                relation,
                access_method: _,
                table_space: _,
                index_params,
                index_including_params,
                options,
                where_clause,
                exclude_op_names,
                idxcomment: _,
                index_oid: _,
                old_number: _,
                old_create_subid: _,
                old_first_relfilelocator_subid: _,
                unique: _,
                nulls_not_distinct: _,
                primary: _,
                isconstraint: _,
                iswithoutoverlaps: _,
                deferrable: _,
                initdeferred: _,
                transformed: _,
                concurrent: _,
                if_not_exists: _,
                reset_default_tblspc: _,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(index_params, cb);
            child_nodes(index_including_params, cb);
            child_nodes(options, cb);
            if let Some(x) = where_clause {
                child_node(x, cb);
            }
            child_nodes(exclude_op_names, cb);
        }
        NodeRef::InferClause(n) => {
            let protobuf::InferClause {
                index_elems,
                where_clause,
                conname: _,
                location: _,
            } = n;
            child_nodes(index_elems, cb);
            if let Some(x) = where_clause {
                child_node(x, cb);
            }
        }
        NodeRef::InferenceElem(n) => {
            let protobuf::InferenceElem {
                xpr,
                expr,
                infercollid: _,
                inferopclass: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = expr {
                child_node(x, cb);
            }
        }
        NodeRef::InlineCodeBlock(n) => {
            let protobuf::InlineCodeBlock {
                source_text: _,
                lang_oid: _,
                lang_is_trusted: _,
                atomic: _,
            } = n;
        }
        NodeRef::InsertStmt(n) => {
            let protobuf::InsertStmt {
                relation,
                cols,
                select_stmt,
                on_conflict_clause,
                returning_clause,
                with_clause,
                r#override: _,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(cols, cb);
            if let Some(x) = select_stmt {
                child_node(x, cb);
            }
            if let Some(x) = on_conflict_clause {
                cb(NodeRef::OnConflictClause(x));
            }
            if let Some(x) = returning_clause {
                cb(NodeRef::ReturningClause(x));
            }
            if let Some(x) = with_clause {
                cb(NodeRef::WithClause(x));
            }
        }
        NodeRef::IntList(n) => {
            let protobuf::IntList { items } = n;
            child_nodes(items, cb);
        }
        NodeRef::Integer(n) => {
            let protobuf::Integer { ival: _ } = n;
        }
        NodeRef::IntoClause(n) => {
            let protobuf::IntoClause {
                rel,
                col_names,
                access_method: _,
                options,
                on_commit: _,
                table_space_name: _,
                view_query,
                skip_data: _,
            } = n;
            if let Some(x) = rel {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(col_names, cb);
            child_nodes(options, cb);
            if let Some(x) = view_query {
                cb(NodeRef::Query(x));
            }
        }
        NodeRef::JoinExpr(n) => {
            let protobuf::JoinExpr {
                jointype: _,
                is_natural: _,
                larg,
                rarg,
                using_clause,
                join_using_alias,
                quals,
                alias,
                rtindex: _,
            } = n;
            if let Some(x) = larg {
                child_node(x, cb);
            }
            if let Some(x) = rarg {
                child_node(x, cb);
            }
            child_nodes(using_clause, cb);
            if let Some(x) = join_using_alias {
                cb(NodeRef::Alias(x));
            }
            if let Some(x) = quals {
                child_node(x, cb);
            }
            if let Some(x) = alias {
                cb(NodeRef::Alias(x));
            }
        }
        NodeRef::JsonAggConstructor(n) => {
            let protobuf::JsonAggConstructor {
                output,
                agg_filter,
                agg_order,
                over,
                location: _,
            } = n;
            if let Some(x) = output {
                cb(NodeRef::JsonOutput(x));
            }
            if let Some(x) = agg_filter {
                child_node(x, cb);
            }
            child_nodes(agg_order, cb);
            if let Some(x) = over {
                cb(NodeRef::WindowDef(x));
            }
        }
        NodeRef::JsonArgument(n) => {
            let protobuf::JsonArgument { val, name: _ } = n;
            if let Some(x) = val {
                cb(NodeRef::JsonValueExpr(x));
            }
        }
        NodeRef::JsonArrayAgg(n) => {
            let protobuf::JsonArrayAgg {
                constructor,
                arg,
                absent_on_null: _,
            } = n;
            if let Some(x) = constructor {
                cb(NodeRef::JsonAggConstructor(x));
            }
            if let Some(x) = arg {
                cb(NodeRef::JsonValueExpr(x));
            }
        }
        NodeRef::JsonArrayConstructor(n) => {
            let protobuf::JsonArrayConstructor {
                exprs,
                output,
                absent_on_null: _,
                location: _,
            } = n;
            child_nodes(exprs, cb);
            if let Some(x) = output {
                cb(NodeRef::JsonOutput(x));
            }
        }
        NodeRef::JsonArrayQueryConstructor(n) => {
            let protobuf::JsonArrayQueryConstructor {
                query,
                output,
                format,
                absent_on_null: _,
                location: _,
            } = n;
            if let Some(x) = query {
                child_node(x, cb);
            }
            if let Some(x) = output {
                cb(NodeRef::JsonOutput(x));
            }
            if let Some(x) = format {
                cb(NodeRef::JsonFormat(x));
            }
        }
        NodeRef::JsonBehavior(n) => {
            let protobuf::JsonBehavior {
                btype: _,
                expr,
                coerce: _,
                location: _,
            } = n;
            if let Some(x) = expr {
                child_node(x, cb);
            }
        }
        NodeRef::JsonConstructorExpr(n) => {
            let protobuf::JsonConstructorExpr {
                xpr,
                r#type: _,
                args,
                func,
                coercion,
                returning,
                absent_on_null: _,
                unique: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
            if let Some(x) = func {
                child_node(x, cb);
            }
            if let Some(x) = coercion {
                child_node(x, cb);
            }
            if let Some(x) = returning {
                cb(NodeRef::JsonReturning(x));
            }
        }
        NodeRef::JsonExpr(n) => {
            let protobuf::JsonExpr {
                xpr,
                op: _,
                column_name: _,
                formatted_expr,
                format,
                path_spec,
                returning,
                passing_names,
                passing_values,
                on_empty,
                on_error,
                use_io_coercion: _,
                use_json_coercion: _,
                wrapper: _,
                omit_quotes: _,
                collation: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = formatted_expr {
                child_node(x, cb);
            }
            if let Some(x) = format {
                cb(NodeRef::JsonFormat(x));
            }
            if let Some(x) = path_spec {
                child_node(x, cb);
            }
            if let Some(x) = returning {
                cb(NodeRef::JsonReturning(x));
            }
            child_nodes(passing_names, cb);
            child_nodes(passing_values, cb);
            if let Some(x) = on_empty {
                cb(NodeRef::JsonBehavior(x));
            }
            if let Some(x) = on_error {
                cb(NodeRef::JsonBehavior(x));
            }
        }
        NodeRef::JsonFormat(n) => {
            let protobuf::JsonFormat {
                format_type: _,
                encoding: _,
                location: _,
            } = n;
        }
        NodeRef::JsonFuncExpr(n) => {
            let protobuf::JsonFuncExpr {
                op: _,
                column_name: _,
                context_item,
                pathspec,
                passing,
                output,
                on_empty,
                on_error,
                wrapper: _,
                quotes: _,
                location: _,
            } = n;
            if let Some(x) = context_item {
                cb(NodeRef::JsonValueExpr(x));
            }
            if let Some(x) = pathspec {
                child_node(x, cb);
            }
            child_nodes(passing, cb);
            if let Some(x) = output {
                cb(NodeRef::JsonOutput(x));
            }
            if let Some(x) = on_empty {
                cb(NodeRef::JsonBehavior(x));
            }
            if let Some(x) = on_error {
                cb(NodeRef::JsonBehavior(x));
            }
        }
        NodeRef::JsonIsPredicate(n) => {
            let protobuf::JsonIsPredicate {
                expr,
                format,
                item_type: _,
                unique_keys: _,
                location: _,
            } = n;
            if let Some(x) = expr {
                child_node(x, cb);
            }
            if let Some(x) = format {
                cb(NodeRef::JsonFormat(x));
            }
        }
        NodeRef::JsonKeyValue(n) => {
            let protobuf::JsonKeyValue { key, value } = n;
            if let Some(x) = key {
                child_node(x, cb);
            }
            if let Some(x) = value {
                cb(NodeRef::JsonValueExpr(x));
            }
        }
        NodeRef::JsonObjectAgg(n) => {
            let protobuf::JsonObjectAgg {
                constructor,
                arg,
                absent_on_null: _,
                unique: _,
            } = n;
            if let Some(x) = constructor {
                cb(NodeRef::JsonAggConstructor(x));
            }
            if let Some(x) = arg {
                cb(NodeRef::JsonKeyValue(x));
            }
        }
        NodeRef::JsonObjectConstructor(n) => {
            let protobuf::JsonObjectConstructor {
                exprs,
                output,
                absent_on_null: _,
                unique: _,
                location: _,
            } = n;
            child_nodes(exprs, cb);
            if let Some(x) = output {
                cb(NodeRef::JsonOutput(x));
            }
        }
        NodeRef::JsonOutput(n) => {
            let protobuf::JsonOutput {
                type_name,
                returning,
            } = n;
            if let Some(x) = type_name {
                cb(NodeRef::TypeName(x));
            }
            if let Some(x) = returning {
                cb(NodeRef::JsonReturning(x));
            }
        }
        NodeRef::JsonParseExpr(n) => {
            let protobuf::JsonParseExpr {
                expr,
                output,
                unique_keys: _,
                location: _,
            } = n;
            if let Some(x) = expr {
                cb(NodeRef::JsonValueExpr(x));
            }
            if let Some(x) = output {
                cb(NodeRef::JsonOutput(x));
            }
        }
        NodeRef::JsonReturning(n) => {
            let protobuf::JsonReturning {
                format,
                typid: _,
                typmod: _,
            } = n;
            if let Some(x) = format {
                cb(NodeRef::JsonFormat(x));
            }
        }
        NodeRef::JsonScalarExpr(n) => {
            let protobuf::JsonScalarExpr {
                expr,
                output,
                location: _,
            } = n;
            if let Some(x) = expr {
                child_node(x, cb);
            }
            if let Some(x) = output {
                cb(NodeRef::JsonOutput(x));
            }
        }
        NodeRef::JsonSerializeExpr(n) => {
            let protobuf::JsonSerializeExpr {
                expr,
                output,
                location: _,
            } = n;
            if let Some(x) = expr {
                cb(NodeRef::JsonValueExpr(x));
            }
            if let Some(x) = output {
                cb(NodeRef::JsonOutput(x));
            }
        }
        NodeRef::JsonTable(n) => {
            let protobuf::JsonTable {
                context_item,
                pathspec,
                passing,
                columns,
                on_error,
                alias,
                lateral: _,
                location: _,
            } = n;
            if let Some(x) = context_item {
                cb(NodeRef::JsonValueExpr(x));
            }
            if let Some(x) = pathspec {
                cb(NodeRef::JsonTablePathSpec(x));
            }
            child_nodes(passing, cb);
            child_nodes(columns, cb);
            if let Some(x) = on_error {
                cb(NodeRef::JsonBehavior(x));
            }
            if let Some(x) = alias {
                cb(NodeRef::Alias(x));
            }
        }
        NodeRef::JsonTableColumn(n) => {
            let protobuf::JsonTableColumn {
                coltype: _,
                name: _,
                type_name,
                pathspec,
                format,
                wrapper: _,
                quotes: _,
                columns,
                on_empty,
                on_error,
                location: _,
            } = n;
            if let Some(x) = type_name {
                cb(NodeRef::TypeName(x));
            }
            if let Some(x) = pathspec {
                cb(NodeRef::JsonTablePathSpec(x));
            }
            if let Some(x) = format {
                cb(NodeRef::JsonFormat(x));
            }
            child_nodes(columns, cb);
            if let Some(x) = on_empty {
                cb(NodeRef::JsonBehavior(x));
            }
            if let Some(x) = on_error {
                cb(NodeRef::JsonBehavior(x));
            }
        }
        NodeRef::JsonTablePath(n) => {
            let protobuf::JsonTablePath { name: _ } = n;
        }
        NodeRef::JsonTablePathScan(n) => {
            let protobuf::JsonTablePathScan {
                plan,
                path,
                error_on_error: _,
                child,
                col_min: _,
                col_max: _,
            } = n;
            if let Some(x) = plan {
                child_node(x, cb);
            }
            if let Some(x) = path {
                cb(NodeRef::JsonTablePath(x));
            }
            if let Some(x) = child {
                child_node(x, cb);
            }
        }
        NodeRef::JsonTablePathSpec(n) => {
            let protobuf::JsonTablePathSpec {
                string,
                name: _,
                name_location: _,
                location: _,
            } = n;
            if let Some(x) = string {
                child_node(x, cb);
            }
        }
        NodeRef::JsonTableSiblingJoin(n) => {
            let protobuf::JsonTableSiblingJoin { plan, lplan, rplan } = n;
            if let Some(x) = plan {
                child_node(x, cb);
            }
            if let Some(x) = lplan {
                child_node(x, cb);
            }
            if let Some(x) = rplan {
                child_node(x, cb);
            }
        }
        NodeRef::JsonValueExpr(n) => {
            let protobuf::JsonValueExpr {
                raw_expr,
                formatted_expr,
                format,
            } = n;
            if let Some(x) = raw_expr {
                child_node(x, cb);
            }
            if let Some(x) = formatted_expr {
                child_node(x, cb);
            }
            if let Some(x) = format {
                cb(NodeRef::JsonFormat(x));
            }
        }
        NodeRef::List(n) => {
            let protobuf::List { items } = n;
            child_nodes(items, cb);
        }
        NodeRef::ListenStmt(n) => {
            let protobuf::ListenStmt { conditionname: _ } = n;
        }
        NodeRef::LoadStmt(n) => {
            let protobuf::LoadStmt { filename: _ } = n;
        }
        NodeRef::LockStmt(n) => {
            let protobuf::LockStmt {
                relations,
                mode: _,
                nowait: _,
            } = n;
            child_nodes(relations, cb);
        }
        NodeRef::LockingClause(n) => {
            let protobuf::LockingClause {
                locked_rels,
                strength: _,
                wait_policy: _,
            } = n;
            child_nodes(locked_rels, cb);
        }
        NodeRef::MergeAction(n) => {
            let protobuf::MergeAction {
                match_kind: _,
                command_type: _,
                r#override: _,
                qual,
                target_list,
                update_colnos,
            } = n;
            if let Some(x) = qual {
                child_node(x, cb);
            }
            child_nodes(target_list, cb);
            child_nodes(update_colnos, cb);
        }
        NodeRef::MergeStmt(n) => {
            let protobuf::MergeStmt {
                relation,
                source_relation,
                join_condition,
                merge_when_clauses,
                returning_clause,
                with_clause,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            if let Some(x) = source_relation {
                child_node(x, cb);
            }
            if let Some(x) = join_condition {
                child_node(x, cb);
            }
            child_nodes(merge_when_clauses, cb);
            if let Some(x) = returning_clause {
                cb(NodeRef::ReturningClause(x));
            }
            if let Some(x) = with_clause {
                cb(NodeRef::WithClause(x));
            }
        }
        NodeRef::MergeSupportFunc(n) => {
            let protobuf::MergeSupportFunc {
                xpr,
                msftype: _,
                msfcollid: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
        }
        NodeRef::MergeWhenClause(n) => {
            let protobuf::MergeWhenClause {
                match_kind: _,
                command_type: _,
                r#override: _,
                condition,
                target_list,
                values,
            } = n;
            if let Some(x) = condition {
                child_node(x, cb);
            }
            child_nodes(target_list, cb);
            child_nodes(values, cb);
        }
        NodeRef::MinMaxExpr(n) => {
            let protobuf::MinMaxExpr {
                xpr,
                minmaxtype: _,
                minmaxcollid: _,
                inputcollid: _,
                op: _,
                args,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
        }
        NodeRef::MultiAssignRef(n) => {
            let protobuf::MultiAssignRef {
                source,
                colno: _,
                ncolumns: _,
            } = n;
            if let Some(x) = source {
                child_node(x, cb);
            }
        }
        NodeRef::NamedArgExpr(n) => {
            let protobuf::NamedArgExpr {
                xpr,
                arg,
                name: _,
                argnumber: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::NextValueExpr(n) => {
            let protobuf::NextValueExpr {
                xpr,
                seqid: _,
                type_id: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
        }
        NodeRef::NotifyStmt(n) => {
            let protobuf::NotifyStmt {
                conditionname: _,
                payload: _,
                payload_location: _,
            } = n;
        }
        NodeRef::NullIfExpr(n) => {
            let protobuf::NullIfExpr {
                xpr,
                opno: _,
                opresulttype: _,
                opretset: _,
                opcollid: _,
                inputcollid: _,
                args,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
        }
        NodeRef::NullTest(n) => {
            let protobuf::NullTest {
                xpr,
                arg,
                nulltesttype: _,
                argisrow: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::ObjectWithArgs(n) => {
            let protobuf::ObjectWithArgs {
                objname,
                objargs,
                objfuncargs,
                args_unspecified: _,
            } = n;
            child_nodes(objname, cb);
            child_nodes(objargs, cb);
            child_nodes(objfuncargs, cb);
        }
        NodeRef::OidList(n) => {
            let protobuf::OidList { items } = n;
            child_nodes(items, cb);
        }
        NodeRef::OnConflictClause(n) => {
            let protobuf::OnConflictClause {
                action: _,
                infer,
                target_list,
                where_clause,
                location: _,
            } = n;
            if let Some(x) = infer {
                cb(NodeRef::InferClause(x));
            }
            child_nodes(target_list, cb);
            if let Some(x) = where_clause {
                child_node(x, cb);
            }
        }
        NodeRef::OnConflictExpr(n) => {
            let protobuf::OnConflictExpr {
                action: _,
                arbiter_elems,
                arbiter_where,
                constraint: _,
                on_conflict_set,
                on_conflict_where,
                excl_rel_index: _,
                excl_rel_tlist,
            } = n;
            child_nodes(arbiter_elems, cb);
            if let Some(x) = arbiter_where {
                child_node(x, cb);
            }
            child_nodes(on_conflict_set, cb);
            if let Some(x) = on_conflict_where {
                child_node(x, cb);
            }
            child_nodes(excl_rel_tlist, cb);
        }
        NodeRef::OpExpr(n) => {
            let protobuf::OpExpr {
                xpr,
                opno: _,
                opresulttype: _,
                opretset: _,
                opcollid: _,
                inputcollid: _,
                args,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
        }
        NodeRef::Param(n) => {
            let protobuf::Param {
                xpr,
                paramkind: _,
                paramid: _,
                paramtype: _,
                paramtypmod: _,
                paramcollid: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
        }
        NodeRef::ParamRef(n) => {
            let protobuf::ParamRef {
                number: _,
                location: _,
            } = n;
        }
        NodeRef::PartitionBoundSpec(n) => {
            let protobuf::PartitionBoundSpec {
                strategy: _,
                is_default: _,
                modulus: _,
                remainder: _,
                listdatums,
                lowerdatums,
                upperdatums,
                location: _,
            } = n;
            child_nodes(listdatums, cb);
            child_nodes(lowerdatums, cb);
            child_nodes(upperdatums, cb);
        }
        NodeRef::PartitionCmd(n) => {
            let protobuf::PartitionCmd {
                name,
                bound,
                concurrent: _,
            } = n;
            if let Some(x) = name {
                cb(NodeRef::RangeVar(x));
            }
            if let Some(x) = bound {
                cb(NodeRef::PartitionBoundSpec(x));
            }
        }
        NodeRef::PartitionElem(n) => {
            let protobuf::PartitionElem {
                name: _,
                expr,
                collation,
                opclass,
                location: _,
            } = n;
            if let Some(x) = expr {
                child_node(x, cb);
            }
            child_nodes(collation, cb);
            child_nodes(opclass, cb);
        }
        NodeRef::PartitionRangeDatum(n) => {
            let protobuf::PartitionRangeDatum {
                kind: _,
                value,
                location: _,
            } = n;
            if let Some(x) = value {
                child_node(x, cb);
            }
        }
        NodeRef::PartitionSpec(n) => {
            let protobuf::PartitionSpec {
                strategy: _,
                part_params,
                location: _,
            } = n;
            child_nodes(part_params, cb);
        }
        NodeRef::PlassignStmt(n) => {
            let protobuf::PlAssignStmt {
                name: _,
                indirection,
                nnames: _,
                val,
                location: _,
            } = n;
            child_nodes(indirection, cb);
            if let Some(x) = val {
                cb(NodeRef::SelectStmt(x));
            }
        }
        NodeRef::PrepareStmt(n) => {
            let protobuf::PrepareStmt {
                name: _,
                argtypes,
                query,
            } = n;
            child_nodes(argtypes, cb);
            if let Some(x) = query {
                child_node(x, cb);
            }
        }
        NodeRef::PublicationObjSpec(n) => {
            let protobuf::PublicationObjSpec {
                pubobjtype: _,
                name: _,
                pubtable,
                location: _,
            } = n;
            if let Some(x) = pubtable {
                cb(NodeRef::PublicationTable(x));
            }
        }
        NodeRef::PublicationTable(n) => {
            let protobuf::PublicationTable {
                relation,
                where_clause,
                columns,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            if let Some(x) = where_clause {
                child_node(x, cb);
            }
            child_nodes(columns, cb);
        }
        NodeRef::Query(n) => {
            let protobuf::Query {
                command_type: _,
                query_source: _,
                can_set_tag: _,
                utility_stmt,
                result_relation: _,
                has_aggs: _,
                has_window_funcs: _,
                has_target_srfs: _,
                has_sub_links: _,
                has_distinct_on: _,
                has_recursive: _,
                has_modifying_cte: _,
                has_for_update: _,
                has_row_security: _,
                has_group_rte: _,
                is_return: _,
                cte_list,
                rtable,
                rteperminfos,
                jointree,
                merge_action_list,
                merge_target_relation: _,
                merge_join_condition,
                target_list,
                r#override: _,
                on_conflict,
                returning_old_alias: _,
                returning_new_alias: _,
                returning_list,
                group_clause,
                group_distinct: _,
                grouping_sets,
                having_qual,
                window_clause,
                distinct_clause,
                sort_clause,
                limit_offset,
                limit_count,
                limit_option: _,
                row_marks,
                set_operations,
                constraint_deps,
                with_check_options,
                stmt_location: _,
                stmt_len: _,
            } = n;
            if let Some(x) = utility_stmt {
                child_node(x, cb);
            }
            child_nodes(cte_list, cb);
            child_nodes(rtable, cb);
            child_nodes(rteperminfos, cb);
            if let Some(x) = jointree {
                cb(NodeRef::FromExpr(x));
            }
            child_nodes(merge_action_list, cb);
            if let Some(x) = merge_join_condition {
                child_node(x, cb);
            }
            child_nodes(target_list, cb);
            if let Some(x) = on_conflict {
                cb(NodeRef::OnConflictExpr(x));
            }
            child_nodes(returning_list, cb);
            child_nodes(group_clause, cb);
            child_nodes(grouping_sets, cb);
            if let Some(x) = having_qual {
                child_node(x, cb);
            }
            child_nodes(window_clause, cb);
            child_nodes(distinct_clause, cb);
            child_nodes(sort_clause, cb);
            if let Some(x) = limit_offset {
                child_node(x, cb);
            }
            if let Some(x) = limit_count {
                child_node(x, cb);
            }
            child_nodes(row_marks, cb);
            if let Some(x) = set_operations {
                child_node(x, cb);
            }
            child_nodes(constraint_deps, cb);
            child_nodes(with_check_options, cb);
        }
        NodeRef::RangeFunction(n) => {
            let protobuf::RangeFunction {
                lateral: _,
                ordinality: _,
                is_rowsfrom: _,
                functions,
                alias,
                coldeflist,
            } = n;
            child_nodes(functions, cb);
            if let Some(x) = alias {
                cb(NodeRef::Alias(x));
            }
            child_nodes(coldeflist, cb);
        }
        NodeRef::RangeSubselect(n) => {
            let protobuf::RangeSubselect {
                lateral: _,
                subquery,
                alias,
            } = n;
            if let Some(x) = subquery {
                child_node(x, cb);
            }
            if let Some(x) = alias {
                cb(NodeRef::Alias(x));
            }
        }
        NodeRef::RangeTableFunc(n) => {
            let protobuf::RangeTableFunc {
                lateral: _,
                docexpr,
                rowexpr,
                namespaces,
                columns,
                alias,
                location: _,
            } = n;
            if let Some(x) = docexpr {
                child_node(x, cb);
            }
            if let Some(x) = rowexpr {
                child_node(x, cb);
            }
            child_nodes(namespaces, cb);
            child_nodes(columns, cb);
            if let Some(x) = alias {
                cb(NodeRef::Alias(x));
            }
        }
        NodeRef::RangeTableFuncCol(n) => {
            let protobuf::RangeTableFuncCol {
                colname: _,
                type_name,
                for_ordinality: _,
                is_not_null: _,
                colexpr,
                coldefexpr,
                location: _,
            } = n;
            if let Some(x) = type_name {
                cb(NodeRef::TypeName(x));
            }
            if let Some(x) = colexpr {
                child_node(x, cb);
            }
            if let Some(x) = coldefexpr {
                child_node(x, cb);
            }
        }
        NodeRef::RangeTableSample(n) => {
            let protobuf::RangeTableSample {
                relation,
                method,
                args,
                repeatable,
                location: _,
            } = n;
            if let Some(x) = relation {
                child_node(x, cb);
            }
            child_nodes(method, cb);
            child_nodes(args, cb);
            if let Some(x) = repeatable {
                child_node(x, cb);
            }
        }
        NodeRef::RangeTblEntry(n) => {
            let protobuf::RangeTblEntry {
                alias,
                eref,
                rtekind: _,
                relid: _,
                inh: _,
                relkind: _,
                rellockmode: _,
                perminfoindex: _,
                tablesample,
                subquery,
                security_barrier: _,
                jointype: _,
                joinmergedcols: _,
                joinaliasvars,
                joinleftcols,
                joinrightcols,
                join_using_alias,
                functions,
                funcordinality: _,
                tablefunc,
                values_lists,
                ctename: _,
                ctelevelsup: _,
                self_reference: _,
                coltypes,
                coltypmods,
                colcollations,
                enrname: _,
                enrtuples: _,
                groupexprs,
                lateral: _,
                in_from_cl: _,
                security_quals,
            } = n;
            if let Some(x) = alias {
                cb(NodeRef::Alias(x));
            }
            if let Some(x) = eref {
                cb(NodeRef::Alias(x));
            }
            if let Some(x) = tablesample {
                cb(NodeRef::TableSampleClause(x));
            }
            if let Some(x) = subquery {
                cb(NodeRef::Query(x));
            }
            child_nodes(joinaliasvars, cb);
            child_nodes(joinleftcols, cb);
            child_nodes(joinrightcols, cb);
            if let Some(x) = join_using_alias {
                cb(NodeRef::Alias(x));
            }
            child_nodes(functions, cb);
            if let Some(x) = tablefunc {
                cb(NodeRef::TableFunc(x));
            }
            child_nodes(values_lists, cb);
            child_nodes(coltypes, cb);
            child_nodes(coltypmods, cb);
            child_nodes(colcollations, cb);
            child_nodes(groupexprs, cb);
            child_nodes(security_quals, cb);
        }
        NodeRef::RangeTblFunction(n) => {
            let protobuf::RangeTblFunction {
                funcexpr,
                funccolcount: _,
                funccolnames,
                funccoltypes,
                funccoltypmods,
                funccolcollations,
                funcparams: _,
            } = n;
            if let Some(x) = funcexpr {
                child_node(x, cb);
            }
            child_nodes(funccolnames, cb);
            child_nodes(funccoltypes, cb);
            child_nodes(funccoltypmods, cb);
            child_nodes(funccolcollations, cb);
        }
        NodeRef::RangeTblRef(n) => {
            let protobuf::RangeTblRef { rtindex: _ } = n;
        }
        NodeRef::RangeVar(n) => {
            let protobuf::RangeVar {
                catalogname: _,
                schemaname: _,
                relname: _,
                inh: _,
                relpersistence: _,
                alias,
                location: _,
            } = n;
            if let Some(x) = alias {
                cb(NodeRef::Alias(x));
            }
        }
        NodeRef::RawStmt(n) => {
            let protobuf::RawStmt {
                stmt,
                stmt_location: _,
                stmt_len: _,
            } = n;
            if let Some(x) = stmt {
                child_node(x, cb);
            }
        }
        NodeRef::ReassignOwnedStmt(n) => {
            let protobuf::ReassignOwnedStmt { roles, newrole } = n;
            child_nodes(roles, cb);
            if let Some(x) = newrole {
                cb(NodeRef::RoleSpec(x));
            }
        }
        NodeRef::RefreshMatViewStmt(n) => {
            let protobuf::RefreshMatViewStmt {
                concurrent: _,
                skip_data: _,
                relation,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
        }
        NodeRef::ReindexStmt(n) => {
            let protobuf::ReindexStmt {
                kind: _,
                relation,
                name: _,
                params,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(params, cb);
        }
        NodeRef::RelabelType(n) => {
            let protobuf::RelabelType {
                xpr,
                arg,
                resulttype: _,
                resulttypmod: _,
                resultcollid: _,
                relabelformat: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::RenameStmt(n) => {
            let protobuf::RenameStmt {
                rename_type: _,
                relation_type: _,
                relation,
                object,
                subname: _,
                newname: _,
                behavior: _,
                missing_ok: _,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            if let Some(x) = object {
                child_node(x, cb);
            }
        }
        NodeRef::ReplicaIdentityStmt(n) => {
            let protobuf::ReplicaIdentityStmt {
                identity_type: _,
                name: _,
            } = n;
        }
        NodeRef::ResTarget(n) => {
            let protobuf::ResTarget {
                name: _,
                indirection,
                val,
                location: _,
            } = n;
            child_nodes(indirection, cb);
            if let Some(x) = val {
                child_node(x, cb);
            }
        }
        NodeRef::ReturnStmt(n) => {
            let protobuf::ReturnStmt { returnval } = n;
            if let Some(x) = returnval {
                child_node(x, cb);
            }
        }
        NodeRef::ReturningClause(n) => {
            let protobuf::ReturningClause { options, exprs } = n;
            child_nodes(options, cb);
            child_nodes(exprs, cb);
        }
        NodeRef::ReturningExpr(n) => {
            let protobuf::ReturningExpr {
                xpr,
                retlevelsup: _,
                retold: _,
                retexpr,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = retexpr {
                child_node(x, cb);
            }
        }
        NodeRef::ReturningOption(n) => {
            let protobuf::ReturningOption {
                option: _,
                value: _,
                location: _,
            } = n;
        }
        NodeRef::RoleSpec(n) => {
            let protobuf::RoleSpec {
                roletype: _,
                rolename: _,
                location: _,
            } = n;
        }
        NodeRef::RowCompareExpr(n) => {
            let protobuf::RowCompareExpr {
                xpr,
                cmptype: _,
                opnos,
                opfamilies,
                inputcollids,
                largs,
                rargs,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(opnos, cb);
            child_nodes(opfamilies, cb);
            child_nodes(inputcollids, cb);
            child_nodes(largs, cb);
            child_nodes(rargs, cb);
        }
        NodeRef::RowExpr(n) => {
            let protobuf::RowExpr {
                xpr,
                args,
                row_typeid: _,
                row_format: _,
                colnames,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
            child_nodes(colnames, cb);
        }
        NodeRef::RowMarkClause(n) => {
            let protobuf::RowMarkClause {
                rti: _,
                strength: _,
                wait_policy: _,
                pushed_down: _,
            } = n;
        }
        NodeRef::RtepermissionInfo(n) => {
            let protobuf::RtePermissionInfo {
                relid: _,
                inh: _,
                required_perms: _,
                check_as_user: _,
                selected_cols: _,
                inserted_cols: _,
                updated_cols: _,
            } = n;
        }
        NodeRef::RuleStmt(n) => {
            let protobuf::RuleStmt {
                relation,
                rulename: _,
                where_clause,
                event: _,
                instead: _,
                actions,
                replace: _,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            if let Some(x) = where_clause {
                child_node(x, cb);
            }
            child_nodes(actions, cb);
        }
        NodeRef::ScalarArrayOpExpr(n) => {
            let protobuf::ScalarArrayOpExpr {
                xpr,
                opno: _,
                use_or: _,
                inputcollid: _,
                args,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
        }
        NodeRef::SecLabelStmt(n) => {
            let protobuf::SecLabelStmt {
                objtype: _,
                object,
                provider: _,
                label: _,
            } = n;
            if let Some(x) = object {
                child_node(x, cb);
            }
        }
        NodeRef::SelectStmt(n) => {
            let protobuf::SelectStmt {
                distinct_clause,
                into_clause,
                target_list,
                from_clause,
                where_clause,
                group_clause,
                group_distinct: _,
                having_clause,
                window_clause,
                values_lists,
                sort_clause,
                limit_offset,
                limit_count,
                limit_option: _,
                locking_clause,
                with_clause,
                op: _,
                all: _,
                larg,
                rarg,
            } = n;
            child_nodes(distinct_clause, cb);
            if let Some(x) = into_clause {
                cb(NodeRef::IntoClause(x));
            }
            child_nodes(target_list, cb);
            child_nodes(from_clause, cb);
            if let Some(x) = where_clause {
                child_node(x, cb);
            }
            child_nodes(group_clause, cb);
            if let Some(x) = having_clause {
                child_node(x, cb);
            }
            child_nodes(window_clause, cb);
            child_nodes(values_lists, cb);
            child_nodes(sort_clause, cb);
            if let Some(x) = limit_offset {
                child_node(x, cb);
            }
            if let Some(x) = limit_count {
                child_node(x, cb);
            }
            child_nodes(locking_clause, cb);
            if let Some(x) = with_clause {
                cb(NodeRef::WithClause(x));
            }
            if let Some(x) = larg {
                cb(NodeRef::SelectStmt(x));
            }
            if let Some(x) = rarg {
                cb(NodeRef::SelectStmt(x));
            }
        }
        NodeRef::SetOperationStmt(n) => {
            let protobuf::SetOperationStmt {
                op: _,
                all: _,
                larg,
                rarg,
                col_types,
                col_typmods,
                col_collations,
                group_clauses,
            } = n;
            if let Some(x) = larg {
                child_node(x, cb);
            }
            if let Some(x) = rarg {
                child_node(x, cb);
            }
            child_nodes(col_types, cb);
            child_nodes(col_typmods, cb);
            child_nodes(col_collations, cb);
            child_nodes(group_clauses, cb);
        }
        NodeRef::SetToDefault(n) => {
            let protobuf::SetToDefault {
                xpr,
                type_id: _,
                type_mod: _,
                collation: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
        }
        NodeRef::SortBy(n) => {
            let protobuf::SortBy {
                node,
                sortby_dir: _,
                sortby_nulls: _,
                use_op,
                location: _,
            } = n;
            if let Some(x) = node {
                child_node(x, cb);
            }
            child_nodes(use_op, cb);
        }
        NodeRef::SortGroupClause(n) => {
            let protobuf::SortGroupClause {
                tle_sort_group_ref: _,
                eqop: _,
                sortop: _,
                reverse_sort: _,
                nulls_first: _,
                hashable: _,
            } = n;
        }
        NodeRef::SqlvalueFunction(n) => {
            let protobuf::SqlValueFunction {
                xpr,
                op: _,
                r#type: _,
                typmod: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
        }
        NodeRef::StatsElem(n) => {
            let protobuf::StatsElem { name: _, expr } = n;
            if let Some(x) = expr {
                child_node(x, cb);
            }
        }
        NodeRef::String(n) => {
            let protobuf::String { sval: _ } = n;
        }
        NodeRef::SubLink(n) => {
            let protobuf::SubLink {
                xpr,
                sub_link_type: _,
                sub_link_id: _,
                testexpr,
                oper_name,
                subselect,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = testexpr {
                child_node(x, cb);
            }
            child_nodes(oper_name, cb);
            if let Some(x) = subselect {
                child_node(x, cb);
            }
        }
        NodeRef::SubPlan(n) => {
            let protobuf::SubPlan {
                xpr,
                sub_link_type: _,
                testexpr,
                param_ids,
                plan_id: _,
                plan_name: _,
                first_col_type: _,
                first_col_typmod: _,
                first_col_collation: _,
                use_hash_table: _,
                unknown_eq_false: _,
                parallel_safe: _,
                set_param,
                par_param,
                args,
                startup_cost: _,
                per_call_cost: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = testexpr {
                child_node(x, cb);
            }
            child_nodes(param_ids, cb);
            child_nodes(set_param, cb);
            child_nodes(par_param, cb);
            child_nodes(args, cb);
        }
        NodeRef::SubscriptingRef(n) => {
            let protobuf::SubscriptingRef {
                xpr,
                refcontainertype: _,
                refelemtype: _,
                refrestype: _,
                reftypmod: _,
                refcollid: _,
                refupperindexpr,
                reflowerindexpr,
                refexpr,
                refassgnexpr,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(refupperindexpr, cb);
            child_nodes(reflowerindexpr, cb);
            if let Some(x) = refexpr {
                child_node(x, cb);
            }
            if let Some(x) = refassgnexpr {
                child_node(x, cb);
            }
        }
        NodeRef::TableFunc(n) => {
            let protobuf::TableFunc {
                functype: _,
                ns_uris,
                ns_names,
                docexpr,
                rowexpr,
                colnames,
                coltypes,
                coltypmods,
                colcollations,
                colexprs,
                coldefexprs,
                colvalexprs,
                passingvalexprs,
                notnulls: _,
                plan,
                ordinalitycol: _,
                location: _,
            } = n;
            child_nodes(ns_uris, cb);
            child_nodes(ns_names, cb);
            if let Some(x) = docexpr {
                child_node(x, cb);
            }
            if let Some(x) = rowexpr {
                child_node(x, cb);
            }
            child_nodes(colnames, cb);
            child_nodes(coltypes, cb);
            child_nodes(coltypmods, cb);
            child_nodes(colcollations, cb);
            child_nodes(colexprs, cb);
            child_nodes(coldefexprs, cb);
            child_nodes(colvalexprs, cb);
            child_nodes(passingvalexprs, cb);
            if let Some(x) = plan {
                child_node(x, cb);
            }
        }
        NodeRef::TableLikeClause(n) => {
            let protobuf::TableLikeClause {
                relation,
                options: _,
                relation_oid: _,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
        }
        NodeRef::TableSampleClause(n) => {
            let protobuf::TableSampleClause {
                tsmhandler: _,
                args,
                repeatable,
            } = n;
            child_nodes(args, cb);
            if let Some(x) = repeatable {
                child_node(x, cb);
            }
        }
        NodeRef::TargetEntry(n) => {
            let protobuf::TargetEntry {
                xpr,
                expr,
                resno: _,
                resname: _,
                ressortgroupref: _,
                resorigtbl: _,
                resorigcol: _,
                resjunk: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = expr {
                child_node(x, cb);
            }
        }
        NodeRef::TransactionStmt(n) => {
            let protobuf::TransactionStmt {
                kind: _,
                options,
                savepoint_name: _,
                gid: _,
                chain: _,
                location: _,
            } = n;
            child_nodes(options, cb);
        }
        NodeRef::TriggerTransition(n) => {
            let protobuf::TriggerTransition {
                name: _,
                is_new: _,
                is_table: _,
            } = n;
        }
        NodeRef::TruncateStmt(n) => {
            let protobuf::TruncateStmt {
                relations,
                restart_seqs: _,
                behavior: _,
            } = n;
            child_nodes(relations, cb);
        }
        NodeRef::TypeCast(n) => {
            let protobuf::TypeCast {
                arg,
                type_name,
                location: _,
            } = n;
            if let Some(x) = arg {
                child_node(x, cb);
            }
            if let Some(x) = type_name {
                cb(NodeRef::TypeName(x));
            }
        }
        NodeRef::TypeName(n) => {
            let protobuf::TypeName {
                names,
                type_oid: _,
                setof: _,
                pct_type: _,
                typmods,
                typemod: _,
                array_bounds,
                location: _,
            } = n;
            child_nodes(names, cb);
            child_nodes(typmods, cb);
            child_nodes(array_bounds, cb);
        }
        NodeRef::UnlistenStmt(n) => {
            let protobuf::UnlistenStmt { conditionname: _ } = n;
        }
        NodeRef::UpdateStmt(n) => {
            let protobuf::UpdateStmt {
                relation,
                target_list,
                where_clause,
                from_clause,
                returning_clause,
                with_clause,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(target_list, cb);
            if let Some(x) = where_clause {
                child_node(x, cb);
            }
            child_nodes(from_clause, cb);
            if let Some(x) = returning_clause {
                cb(NodeRef::ReturningClause(x));
            }
            if let Some(x) = with_clause {
                cb(NodeRef::WithClause(x));
            }
        }
        NodeRef::VacuumRelation(n) => {
            let protobuf::VacuumRelation {
                relation,
                oid: _,
                va_cols,
            } = n;
            if let Some(x) = relation {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(va_cols, cb);
        }
        NodeRef::VacuumStmt(n) => {
            let protobuf::VacuumStmt {
                options,
                rels,
                is_vacuumcmd: _,
            } = n;
            child_nodes(options, cb);
            child_nodes(rels, cb);
        }
        NodeRef::Var(n) => {
            let protobuf::Var {
                xpr,
                varno: _,
                varattno: _,
                vartype: _,
                vartypmod: _,
                varcollid: _,
                varnullingrels: _,
                varlevelsup: _,
                varreturningtype: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
        }
        NodeRef::VariableSetStmt(n) => {
            let protobuf::VariableSetStmt {
                kind: _,
                name: _,
                args,
                jumble_args: _,
                is_local: _,
                location: _,
            } = n;
            child_nodes(args, cb);
        }
        NodeRef::VariableShowStmt(n) => {
            let protobuf::VariableShowStmt { name: _ } = n;
        }
        NodeRef::ViewStmt(n) => {
            let protobuf::ViewStmt {
                view,
                aliases,
                query,
                replace: _,
                options,
                with_check_option: _,
            } = n;
            if let Some(x) = view {
                cb(NodeRef::RangeVar(x));
            }
            child_nodes(aliases, cb);
            if let Some(x) = query {
                child_node(x, cb);
            }
            child_nodes(options, cb);
        }
        NodeRef::WindowClause(n) => {
            let protobuf::WindowClause {
                name: _,
                refname: _,
                partition_clause,
                order_clause,
                frame_options: _,
                start_offset,
                end_offset,
                start_in_range_func: _,
                end_in_range_func: _,
                in_range_coll: _,
                in_range_asc: _,
                in_range_nulls_first: _,
                winref: _,
                copied_order: _,
            } = n;
            child_nodes(partition_clause, cb);
            child_nodes(order_clause, cb);
            if let Some(x) = start_offset {
                child_node(x, cb);
            }
            if let Some(x) = end_offset {
                child_node(x, cb);
            }
        }
        NodeRef::WindowDef(n) => {
            let protobuf::WindowDef {
                name: _,
                refname: _,
                partition_clause,
                order_clause,
                frame_options: _,
                start_offset,
                end_offset,
                location: _,
            } = n;
            child_nodes(partition_clause, cb);
            child_nodes(order_clause, cb);
            if let Some(x) = start_offset {
                child_node(x, cb);
            }
            if let Some(x) = end_offset {
                child_node(x, cb);
            }
        }
        NodeRef::WindowFunc(n) => {
            let protobuf::WindowFunc {
                xpr,
                winfnoid: _,
                wintype: _,
                wincollid: _,
                inputcollid: _,
                args,
                aggfilter,
                run_condition,
                winref: _,
                winstar: _,
                winagg: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(args, cb);
            if let Some(x) = aggfilter {
                child_node(x, cb);
            }
            child_nodes(run_condition, cb);
        }
        NodeRef::WindowFuncRunCondition(n) => {
            let protobuf::WindowFuncRunCondition {
                xpr,
                opno: _,
                inputcollid: _,
                wfunc_left: _,
                arg,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            if let Some(x) = arg {
                child_node(x, cb);
            }
        }
        NodeRef::WithCheckOption(n) => {
            let protobuf::WithCheckOption {
                kind: _,
                relname: _,
                polname: _,
                qual,
                cascaded: _,
            } = n;
            if let Some(x) = qual {
                child_node(x, cb);
            }
        }
        NodeRef::WithClause(n) => {
            let protobuf::WithClause {
                ctes,
                recursive: _,
                location: _,
            } = n;
            child_nodes(ctes, cb);
        }
        NodeRef::XmlExpr(n) => {
            let protobuf::XmlExpr {
                xpr,
                op: _,
                name: _,
                named_args,
                arg_names,
                args,
                xmloption: _,
                indent: _,
                r#type: _,
                typmod: _,
                location: _,
            } = n;
            if let Some(x) = xpr {
                child_node(x, cb);
            }
            child_nodes(named_args, cb);
            child_nodes(arg_names, cb);
            child_nodes(args, cb);
        }
        NodeRef::XmlSerialize(n) => {
            let protobuf::XmlSerialize {
                xmloption: _,
                expr,
                type_name,
                indent: _,
                location: _,
            } = n;
            if let Some(x) = expr {
                child_node(x, cb);
            }
            if let Some(x) = type_name {
                cb(NodeRef::TypeName(x));
            }
        }
    }
}

/// The pg_query node type name, e.g. `SelectStmt`.
pub(crate) fn node_name(n: NodeRef<'_>) -> &'static str {
    match n {
        NodeRef::AArrayExpr(_) => "AArrayExpr",
        NodeRef::AConst(_) => "AConst",
        NodeRef::AExpr(_) => "AExpr",
        NodeRef::AIndices(_) => "AIndices",
        NodeRef::AIndirection(_) => "AIndirection",
        NodeRef::AStar(_) => "AStar",
        NodeRef::AccessPriv(_) => "AccessPriv",
        NodeRef::Aggref(_) => "Aggref",
        NodeRef::Alias(_) => "Alias",
        NodeRef::AlterCollationStmt(_) => "AlterCollationStmt",
        NodeRef::AlterDatabaseRefreshCollStmt(_) => "AlterDatabaseRefreshCollStmt",
        NodeRef::AlterDatabaseSetStmt(_) => "AlterDatabaseSetStmt",
        NodeRef::AlterDatabaseStmt(_) => "AlterDatabaseStmt",
        NodeRef::AlterDefaultPrivilegesStmt(_) => "AlterDefaultPrivilegesStmt",
        NodeRef::AlterDomainStmt(_) => "AlterDomainStmt",
        NodeRef::AlterEnumStmt(_) => "AlterEnumStmt",
        NodeRef::AlterEventTrigStmt(_) => "AlterEventTrigStmt",
        NodeRef::AlterExtensionContentsStmt(_) => "AlterExtensionContentsStmt",
        NodeRef::AlterExtensionStmt(_) => "AlterExtensionStmt",
        NodeRef::AlterFdwStmt(_) => "AlterFdwStmt",
        NodeRef::AlterForeignServerStmt(_) => "AlterForeignServerStmt",
        NodeRef::AlterFunctionStmt(_) => "AlterFunctionStmt",
        NodeRef::AlterObjectDependsStmt(_) => "AlterObjectDependsStmt",
        NodeRef::AlterObjectSchemaStmt(_) => "AlterObjectSchemaStmt",
        NodeRef::AlterOpFamilyStmt(_) => "AlterOpFamilyStmt",
        NodeRef::AlterOperatorStmt(_) => "AlterOperatorStmt",
        NodeRef::AlterOwnerStmt(_) => "AlterOwnerStmt",
        NodeRef::AlterPolicyStmt(_) => "AlterPolicyStmt",
        NodeRef::AlterPublicationStmt(_) => "AlterPublicationStmt",
        NodeRef::AlterRoleSetStmt(_) => "AlterRoleSetStmt",
        NodeRef::AlterRoleStmt(_) => "AlterRoleStmt",
        NodeRef::AlterSeqStmt(_) => "AlterSeqStmt",
        NodeRef::AlterStatsStmt(_) => "AlterStatsStmt",
        NodeRef::AlterSubscriptionStmt(_) => "AlterSubscriptionStmt",
        NodeRef::AlterSystemStmt(_) => "AlterSystemStmt",
        NodeRef::AlterTableCmd(_) => "AlterTableCmd",
        NodeRef::AlterTableMoveAllStmt(_) => "AlterTableMoveAllStmt",
        NodeRef::AlterTableSpaceOptionsStmt(_) => "AlterTableSpaceOptionsStmt",
        NodeRef::AlterTableStmt(_) => "AlterTableStmt",
        NodeRef::AlterTsconfigurationStmt(_) => "AlterTsconfigurationStmt",
        NodeRef::AlterTsdictionaryStmt(_) => "AlterTsdictionaryStmt",
        NodeRef::AlterTypeStmt(_) => "AlterTypeStmt",
        NodeRef::AlterUserMappingStmt(_) => "AlterUserMappingStmt",
        NodeRef::AlternativeSubPlan(_) => "AlternativeSubPlan",
        NodeRef::ArrayCoerceExpr(_) => "ArrayCoerceExpr",
        NodeRef::ArrayExpr(_) => "ArrayExpr",
        NodeRef::AtalterConstraint(_) => "AtalterConstraint",
        NodeRef::BitString(_) => "BitString",
        NodeRef::BoolExpr(_) => "BoolExpr",
        NodeRef::Boolean(_) => "Boolean",
        NodeRef::BooleanTest(_) => "BooleanTest",
        NodeRef::CallContext(_) => "CallContext",
        NodeRef::CallStmt(_) => "CallStmt",
        NodeRef::CaseExpr(_) => "CaseExpr",
        NodeRef::CaseTestExpr(_) => "CaseTestExpr",
        NodeRef::CaseWhen(_) => "CaseWhen",
        NodeRef::CheckPointStmt(_) => "CheckPointStmt",
        NodeRef::ClosePortalStmt(_) => "ClosePortalStmt",
        NodeRef::ClusterStmt(_) => "ClusterStmt",
        NodeRef::CoalesceExpr(_) => "CoalesceExpr",
        NodeRef::CoerceToDomain(_) => "CoerceToDomain",
        NodeRef::CoerceToDomainValue(_) => "CoerceToDomainValue",
        NodeRef::CoerceViaIo(_) => "CoerceViaIo",
        NodeRef::CollateClause(_) => "CollateClause",
        NodeRef::CollateExpr(_) => "CollateExpr",
        NodeRef::ColumnDef(_) => "ColumnDef",
        NodeRef::ColumnRef(_) => "ColumnRef",
        NodeRef::CommentStmt(_) => "CommentStmt",
        NodeRef::CommonTableExpr(_) => "CommonTableExpr",
        NodeRef::CompositeTypeStmt(_) => "CompositeTypeStmt",
        NodeRef::Constraint(_) => "Constraint",
        NodeRef::ConstraintsSetStmt(_) => "ConstraintsSetStmt",
        NodeRef::ConvertRowtypeExpr(_) => "ConvertRowtypeExpr",
        NodeRef::CopyStmt(_) => "CopyStmt",
        NodeRef::CreateAmStmt(_) => "CreateAmStmt",
        NodeRef::CreateCastStmt(_) => "CreateCastStmt",
        NodeRef::CreateConversionStmt(_) => "CreateConversionStmt",
        NodeRef::CreateDomainStmt(_) => "CreateDomainStmt",
        NodeRef::CreateEnumStmt(_) => "CreateEnumStmt",
        NodeRef::CreateEventTrigStmt(_) => "CreateEventTrigStmt",
        NodeRef::CreateExtensionStmt(_) => "CreateExtensionStmt",
        NodeRef::CreateFdwStmt(_) => "CreateFdwStmt",
        NodeRef::CreateForeignServerStmt(_) => "CreateForeignServerStmt",
        NodeRef::CreateForeignTableStmt(_) => "CreateForeignTableStmt",
        NodeRef::CreateFunctionStmt(_) => "CreateFunctionStmt",
        NodeRef::CreateOpClassItem(_) => "CreateOpClassItem",
        NodeRef::CreateOpClassStmt(_) => "CreateOpClassStmt",
        NodeRef::CreateOpFamilyStmt(_) => "CreateOpFamilyStmt",
        NodeRef::CreatePlangStmt(_) => "CreatePlangStmt",
        NodeRef::CreatePolicyStmt(_) => "CreatePolicyStmt",
        NodeRef::CreatePublicationStmt(_) => "CreatePublicationStmt",
        NodeRef::CreateRangeStmt(_) => "CreateRangeStmt",
        NodeRef::CreateRoleStmt(_) => "CreateRoleStmt",
        NodeRef::CreateSchemaStmt(_) => "CreateSchemaStmt",
        NodeRef::CreateSeqStmt(_) => "CreateSeqStmt",
        NodeRef::CreateStatsStmt(_) => "CreateStatsStmt",
        NodeRef::CreateStmt(_) => "CreateStmt",
        NodeRef::CreateSubscriptionStmt(_) => "CreateSubscriptionStmt",
        NodeRef::CreateTableAsStmt(_) => "CreateTableAsStmt",
        NodeRef::CreateTableSpaceStmt(_) => "CreateTableSpaceStmt",
        NodeRef::CreateTransformStmt(_) => "CreateTransformStmt",
        NodeRef::CreateTrigStmt(_) => "CreateTrigStmt",
        NodeRef::CreateUserMappingStmt(_) => "CreateUserMappingStmt",
        NodeRef::CreatedbStmt(_) => "CreatedbStmt",
        NodeRef::CtecycleClause(_) => "CtecycleClause",
        NodeRef::CtesearchClause(_) => "CtesearchClause",
        NodeRef::CurrentOfExpr(_) => "CurrentOfExpr",
        NodeRef::DeallocateStmt(_) => "DeallocateStmt",
        NodeRef::DeclareCursorStmt(_) => "DeclareCursorStmt",
        NodeRef::DefElem(_) => "DefElem",
        NodeRef::DefineStmt(_) => "DefineStmt",
        NodeRef::DeleteStmt(_) => "DeleteStmt",
        NodeRef::DiscardStmt(_) => "DiscardStmt",
        NodeRef::DistinctExpr(_) => "DistinctExpr",
        NodeRef::DoStmt(_) => "DoStmt",
        NodeRef::DropOwnedStmt(_) => "DropOwnedStmt",
        NodeRef::DropRoleStmt(_) => "DropRoleStmt",
        NodeRef::DropStmt(_) => "DropStmt",
        NodeRef::DropSubscriptionStmt(_) => "DropSubscriptionStmt",
        NodeRef::DropTableSpaceStmt(_) => "DropTableSpaceStmt",
        NodeRef::DropUserMappingStmt(_) => "DropUserMappingStmt",
        NodeRef::DropdbStmt(_) => "DropdbStmt",
        NodeRef::ExecuteStmt(_) => "ExecuteStmt",
        NodeRef::ExplainStmt(_) => "ExplainStmt",
        NodeRef::FetchStmt(_) => "FetchStmt",
        NodeRef::FieldSelect(_) => "FieldSelect",
        NodeRef::FieldStore(_) => "FieldStore",
        NodeRef::Float(_) => "Float",
        NodeRef::FromExpr(_) => "FromExpr",
        NodeRef::FuncCall(_) => "FuncCall",
        NodeRef::FuncExpr(_) => "FuncExpr",
        NodeRef::FunctionParameter(_) => "FunctionParameter",
        NodeRef::GrantRoleStmt(_) => "GrantRoleStmt",
        NodeRef::GrantStmt(_) => "GrantStmt",
        NodeRef::GroupingFunc(_) => "GroupingFunc",
        NodeRef::GroupingSet(_) => "GroupingSet",
        NodeRef::ImportForeignSchemaStmt(_) => "ImportForeignSchemaStmt",
        NodeRef::IndexElem(_) => "IndexElem",
        NodeRef::IndexStmt(_) => "IndexStmt",
        NodeRef::InferClause(_) => "InferClause",
        NodeRef::InferenceElem(_) => "InferenceElem",
        NodeRef::InlineCodeBlock(_) => "InlineCodeBlock",
        NodeRef::InsertStmt(_) => "InsertStmt",
        NodeRef::IntList(_) => "IntList",
        NodeRef::Integer(_) => "Integer",
        NodeRef::IntoClause(_) => "IntoClause",
        NodeRef::JoinExpr(_) => "JoinExpr",
        NodeRef::JsonAggConstructor(_) => "JsonAggConstructor",
        NodeRef::JsonArgument(_) => "JsonArgument",
        NodeRef::JsonArrayAgg(_) => "JsonArrayAgg",
        NodeRef::JsonArrayConstructor(_) => "JsonArrayConstructor",
        NodeRef::JsonArrayQueryConstructor(_) => "JsonArrayQueryConstructor",
        NodeRef::JsonBehavior(_) => "JsonBehavior",
        NodeRef::JsonConstructorExpr(_) => "JsonConstructorExpr",
        NodeRef::JsonExpr(_) => "JsonExpr",
        NodeRef::JsonFormat(_) => "JsonFormat",
        NodeRef::JsonFuncExpr(_) => "JsonFuncExpr",
        NodeRef::JsonIsPredicate(_) => "JsonIsPredicate",
        NodeRef::JsonKeyValue(_) => "JsonKeyValue",
        NodeRef::JsonObjectAgg(_) => "JsonObjectAgg",
        NodeRef::JsonObjectConstructor(_) => "JsonObjectConstructor",
        NodeRef::JsonOutput(_) => "JsonOutput",
        NodeRef::JsonParseExpr(_) => "JsonParseExpr",
        NodeRef::JsonReturning(_) => "JsonReturning",
        NodeRef::JsonScalarExpr(_) => "JsonScalarExpr",
        NodeRef::JsonSerializeExpr(_) => "JsonSerializeExpr",
        NodeRef::JsonTable(_) => "JsonTable",
        NodeRef::JsonTableColumn(_) => "JsonTableColumn",
        NodeRef::JsonTablePath(_) => "JsonTablePath",
        NodeRef::JsonTablePathScan(_) => "JsonTablePathScan",
        NodeRef::JsonTablePathSpec(_) => "JsonTablePathSpec",
        NodeRef::JsonTableSiblingJoin(_) => "JsonTableSiblingJoin",
        NodeRef::JsonValueExpr(_) => "JsonValueExpr",
        NodeRef::List(_) => "List",
        NodeRef::ListenStmt(_) => "ListenStmt",
        NodeRef::LoadStmt(_) => "LoadStmt",
        NodeRef::LockStmt(_) => "LockStmt",
        NodeRef::LockingClause(_) => "LockingClause",
        NodeRef::MergeAction(_) => "MergeAction",
        NodeRef::MergeStmt(_) => "MergeStmt",
        NodeRef::MergeSupportFunc(_) => "MergeSupportFunc",
        NodeRef::MergeWhenClause(_) => "MergeWhenClause",
        NodeRef::MinMaxExpr(_) => "MinMaxExpr",
        NodeRef::MultiAssignRef(_) => "MultiAssignRef",
        NodeRef::NamedArgExpr(_) => "NamedArgExpr",
        NodeRef::NextValueExpr(_) => "NextValueExpr",
        NodeRef::NotifyStmt(_) => "NotifyStmt",
        NodeRef::NullIfExpr(_) => "NullIfExpr",
        NodeRef::NullTest(_) => "NullTest",
        NodeRef::ObjectWithArgs(_) => "ObjectWithArgs",
        NodeRef::OidList(_) => "OidList",
        NodeRef::OnConflictClause(_) => "OnConflictClause",
        NodeRef::OnConflictExpr(_) => "OnConflictExpr",
        NodeRef::OpExpr(_) => "OpExpr",
        NodeRef::Param(_) => "Param",
        NodeRef::ParamRef(_) => "ParamRef",
        NodeRef::PartitionBoundSpec(_) => "PartitionBoundSpec",
        NodeRef::PartitionCmd(_) => "PartitionCmd",
        NodeRef::PartitionElem(_) => "PartitionElem",
        NodeRef::PartitionRangeDatum(_) => "PartitionRangeDatum",
        NodeRef::PartitionSpec(_) => "PartitionSpec",
        NodeRef::PlassignStmt(_) => "PlassignStmt",
        NodeRef::PrepareStmt(_) => "PrepareStmt",
        NodeRef::PublicationObjSpec(_) => "PublicationObjSpec",
        NodeRef::PublicationTable(_) => "PublicationTable",
        NodeRef::Query(_) => "Query",
        NodeRef::RangeFunction(_) => "RangeFunction",
        NodeRef::RangeSubselect(_) => "RangeSubselect",
        NodeRef::RangeTableFunc(_) => "RangeTableFunc",
        NodeRef::RangeTableFuncCol(_) => "RangeTableFuncCol",
        NodeRef::RangeTableSample(_) => "RangeTableSample",
        NodeRef::RangeTblEntry(_) => "RangeTblEntry",
        NodeRef::RangeTblFunction(_) => "RangeTblFunction",
        NodeRef::RangeTblRef(_) => "RangeTblRef",
        NodeRef::RangeVar(_) => "RangeVar",
        NodeRef::RawStmt(_) => "RawStmt",
        NodeRef::ReassignOwnedStmt(_) => "ReassignOwnedStmt",
        NodeRef::RefreshMatViewStmt(_) => "RefreshMatViewStmt",
        NodeRef::ReindexStmt(_) => "ReindexStmt",
        NodeRef::RelabelType(_) => "RelabelType",
        NodeRef::RenameStmt(_) => "RenameStmt",
        NodeRef::ReplicaIdentityStmt(_) => "ReplicaIdentityStmt",
        NodeRef::ResTarget(_) => "ResTarget",
        NodeRef::ReturnStmt(_) => "ReturnStmt",
        NodeRef::ReturningClause(_) => "ReturningClause",
        NodeRef::ReturningExpr(_) => "ReturningExpr",
        NodeRef::ReturningOption(_) => "ReturningOption",
        NodeRef::RoleSpec(_) => "RoleSpec",
        NodeRef::RowCompareExpr(_) => "RowCompareExpr",
        NodeRef::RowExpr(_) => "RowExpr",
        NodeRef::RowMarkClause(_) => "RowMarkClause",
        NodeRef::RtepermissionInfo(_) => "RtepermissionInfo",
        NodeRef::RuleStmt(_) => "RuleStmt",
        NodeRef::ScalarArrayOpExpr(_) => "ScalarArrayOpExpr",
        NodeRef::SecLabelStmt(_) => "SecLabelStmt",
        NodeRef::SelectStmt(_) => "SelectStmt",
        NodeRef::SetOperationStmt(_) => "SetOperationStmt",
        NodeRef::SetToDefault(_) => "SetToDefault",
        NodeRef::SortBy(_) => "SortBy",
        NodeRef::SortGroupClause(_) => "SortGroupClause",
        NodeRef::SqlvalueFunction(_) => "SqlvalueFunction",
        NodeRef::StatsElem(_) => "StatsElem",
        NodeRef::String(_) => "String",
        NodeRef::SubLink(_) => "SubLink",
        NodeRef::SubPlan(_) => "SubPlan",
        NodeRef::SubscriptingRef(_) => "SubscriptingRef",
        NodeRef::TableFunc(_) => "TableFunc",
        NodeRef::TableLikeClause(_) => "TableLikeClause",
        NodeRef::TableSampleClause(_) => "TableSampleClause",
        NodeRef::TargetEntry(_) => "TargetEntry",
        NodeRef::TransactionStmt(_) => "TransactionStmt",
        NodeRef::TriggerTransition(_) => "TriggerTransition",
        NodeRef::TruncateStmt(_) => "TruncateStmt",
        NodeRef::TypeCast(_) => "TypeCast",
        NodeRef::TypeName(_) => "TypeName",
        NodeRef::UnlistenStmt(_) => "UnlistenStmt",
        NodeRef::UpdateStmt(_) => "UpdateStmt",
        NodeRef::VacuumRelation(_) => "VacuumRelation",
        NodeRef::VacuumStmt(_) => "VacuumStmt",
        NodeRef::Var(_) => "Var",
        NodeRef::VariableSetStmt(_) => "VariableSetStmt",
        NodeRef::VariableShowStmt(_) => "VariableShowStmt",
        NodeRef::ViewStmt(_) => "ViewStmt",
        NodeRef::WindowClause(_) => "WindowClause",
        NodeRef::WindowDef(_) => "WindowDef",
        NodeRef::WindowFunc(_) => "WindowFunc",
        NodeRef::WindowFuncRunCondition(_) => "WindowFuncRunCondition",
        NodeRef::WithCheckOption(_) => "WithCheckOption",
        NodeRef::WithClause(_) => "WithClause",
        NodeRef::XmlExpr(_) => "XmlExpr",
        NodeRef::XmlSerialize(_) => "XmlSerialize",
    }
}
